//! The OpenAPI 3.1 description of the API, written as data. It is checked
//! against the router by a test (every route documented, nothing extra).

use folio_jobs::Operation;
use serde_json::{Value, json};

fn problem(desc: &str) -> Value {
    json!({"description": desc, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
}

fn job_response(desc: &str) -> Value {
    json!({"description": desc, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}})
}

fn id_param() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}})
}

/// Every `(method, path)` the document describes, for the router test.
pub fn documented_routes() -> Vec<(String, String)> {
    let doc = document();
    let mut out = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, ops) in paths {
            if let Some(ops) = ops.as_object() {
                for method in ops.keys().filter(|k| *k != "parameters") {
                    out.push((method.to_uppercase(), path.clone()));
                }
            }
        }
    }
    out
}

/// Answers every `/v1` route can give besides its own: auth and rate limits.
fn add_common_responses(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, ops) in paths.iter_mut() {
        let Some(ops) = ops.as_object_mut() else {
            continue;
        };
        for (method, op) in ops.iter_mut() {
            let r = &mut op["responses"];
            if path.starts_with("/v1/") {
                r["401"] = problem(
                    "No or invalid API key (unauthorized, invalid_api_key); see FOLIO_AUTH",
                );
                if method == "post" {
                    r["408"] =
                        problem("The request body was not received in time (request_timeout)");
                    r["429"] = problem(
                        "Rate limited (rate_limited, with Retry-After and RateLimit-* headers) or too many unfinished jobs for this key (too_many_jobs)",
                    );
                } else {
                    r["429"] = problem(
                        "Rate limited (rate_limited, with Retry-After and RateLimit-* headers)",
                    );
                }
            } else if path != "/health/live" && path != "/health/ready" && path != "/metrics" {
                r["429"] = problem("Rate limited (rate_limited)");
            }
        }
    }
}

pub fn document() -> Value {
    let mut doc = base_document();
    add_common_responses(&mut doc);
    doc
}

fn base_document() -> Value {
    let ops: Vec<&str> = Operation::ALL.iter().map(|o| o.as_str()).collect();
    let option_props = json!({
        "level": {"type": "string", "enum": ["lossless", "balanced", "strong"], "description": "compress: how hard to try (default balanced)"},
        "target_size": {"type": "integer", "description": "compress: aim for at most this many bytes (lossy levels)"},
        "min_ssim": {"type": "number", "minimum": 0, "maximum": 1, "description": "compress: quality floor (lossy levels)"},
        "page_size": {"type": "string", "enum": ["auto", "a4", "letter"], "description": "images-to-pdf: page size (default auto)"},
        "margin": {"type": "number", "description": "images-to-pdf: margin in points"},
        "dpi": {"type": "number", "description": "images-to-pdf: resolution for auto pages; render: output resolution (default 72)"},
        "pages": {"type": "string", "description": "split/rotate/text: page selection such as 1-3,7,10-"},
        "every": {"type": "integer", "minimum": 1, "description": "split: pages per chunk (several outputs come back as a zip)"},
        "angle": {"type": "integer", "enum": [90, 180, 270], "description": "rotate: clockwise degrees (required)"},
        "page": {"type": "integer", "minimum": 1, "description": "render: page number (default 1)"},
        "sanitize": {"type": "boolean", "description": "compress/merge: remove JavaScript, launch actions, embedded files and XFA (forced by FOLIO_FORCE_SANITIZE)"},
        "password": {"type": "string", "description": "password for encrypted PDFs (disables the result cache)"},
        "priority": {"type": "integer", "minimum": -100, "maximum": 100, "description": "higher runs first (default 0)"},
        "timeout": {"type": "integer", "description": "soft time limit in seconds (at most the server's)"},
        "file": {"type": "array", "items": {"type": "string", "format": "binary"},
                 "description": "input files, in order; any part with a filename counts, whatever its field name (file, files, files[])"}
    });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Folio",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Self-hosted PDF processing. Errors are RFC 7807 problem documents with a stable `code` (the engine's codes included)."
        },
        "paths": {
            "/v1/{operation}": {
                "post": {
                    "summary": "Run an operation on uploaded files",
                    "description": "Waits up to the sync window (FOLIO_SYNC_WAIT) and answers 200 with the result; otherwise, or with `Prefer: respond-async`, 202 with the job and `Location`. Several output files come back as a zip.",
                    "parameters": [
                        {"name": "operation", "in": "path", "required": true, "schema": {"type": "string", "enum": ops}},
                        {"name": "Prefer", "in": "header", "required": false, "schema": {"type": "string"}, "description": "`respond-async`, or `wait=N` to shorten the sync window"}
                    ],
                    "requestBody": {"required": true, "content": {"multipart/form-data": {"schema": {"type": "object", "properties": option_props}}}},
                    "responses": {
                        "200": {"description": "The result file. Headers: Content-Disposition, X-Folio-Job-Id, X-Folio-Bytes-In, X-Folio-Bytes-Out, X-Folio-Pages-In, X-Folio-Pages-Out, X-Folio-Cache.",
                                "content": {"application/pdf": {}, "application/zip": {}, "text/plain": {}, "image/png": {}}},
                        "202": job_response("Queued or running; follow the Location"),
                        "400": problem("Bad options, missing or too many files"),
                        "404": problem("Unknown operation (code unknown_operation)"),
                        "409": problem("The job was cancelled"),
                        "413": problem("The upload is larger than FOLIO_MAX_UPLOAD_BYTES"),
                        "415": problem("Not multipart, or a file of the wrong type (checked by content)"),
                        "422": problem("The job failed on this input (invalid_pdf, encrypted, crashed, timeout...)"),
                        "500": problem("Internal error")
                    }
                }
            },
            "/v1/jobs/{id}": {
                "get": {"summary": "Job status", "parameters": [id_param()],
                        "responses": {"200": job_response("The job"), "404": problem("No such job")}},
                "delete": {"summary": "Cancel the job and delete its files", "parameters": [id_param()],
                           "responses": {"200": job_response("The job after cancellation"), "404": problem("No such job")}}
            },
            "/v1/jobs/{id}/events": {
                "get": {"summary": "Server-sent events: progress and state, resumable with Last-Event-ID",
                        "parameters": [id_param(), {"name": "Last-Event-ID", "in": "header", "required": false, "schema": {"type": "string"}}],
                        "responses": {"200": {"description": "event: progress|state; data: JSON", "content": {"text/event-stream": {}}}, "404": problem("No such job")}}
            },
            "/v1/jobs/{id}/result": {
                "get": {"summary": "Download the result (Range supported)",
                        "parameters": [id_param(), {"name": "Range", "in": "header", "required": false, "schema": {"type": "string"}}],
                        "responses": {"200": {"description": "The result file"}, "206": {"description": "Part of the result"},
                                      "404": problem("No such job"), "409": problem("Not finished (not_ready) or failed (job_failed)"),
                                      "410": problem("Expired or cancelled"), "416": problem("Range not satisfiable")}}
            },
            "/v1/admin/stats": {
                "get": {"summary": "Admin: queue depth, jobs per minute, failures by code, storage used",
                        "description": "Admin only (today every caller is an admin; with API keys, only an admin key). Figures cover the last `window` seconds (default 3600, 60 to 604800).",
                        "parameters": [{"name": "window", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 60, "maximum": 604800}}],
                        "responses": {"200": {"description": "The figures", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AdminStats"}}}},
                                      "400": problem("Bad window"), "401": problem("No key (when API keys are enabled)"), "403": problem("Not an admin key")}}
            },
            "/v1/admin/jobs": {
                "get": {"summary": "Admin: the newest jobs, optionally in one state",
                        "parameters": [
                            {"name": "state", "in": "query", "required": false, "schema": {"type": "string", "enum": ["all", "queued", "running", "succeeded", "failed", "cancelled"]}},
                            {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 500}}
                        ],
                        "responses": {"200": {"description": "`{\"jobs\": [Job...]}`, newest first",
                                              "content": {"application/json": {"schema": {"type": "object", "properties": {"jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}}}}}}},
                                      "400": problem("Bad state or limit"), "401": problem("No key (when API keys are enabled)"), "403": problem("Not an admin key")}}
            },
            "/": {"get": {"summary": "Web UI: upload, convert, download", "responses": {"200": {"description": "HTML"}}}},
            "/admin": {"get": {"summary": "Web UI: admin view (queue, failures, storage, cancel)", "responses": {"200": {"description": "HTML"}}}},
            "/ui/{file}": {"get": {"summary": "Web UI scripts and stylesheet",
                                   "parameters": [{"name": "file", "in": "path", "required": true, "schema": {"type": "string", "enum": ["app.js", "admin.js", "key.js", "style.css"]}}],
                                   "responses": {"200": {"description": "JavaScript or CSS"}, "404": problem("No such file")}}},
            "/health/live": {"get": {"summary": "Liveness", "responses": {"200": {"description": "The process answers"}}}},
            "/health/ready": {"get": {"summary": "Readiness: database, storage, worker pool, queue depth",
                                      "responses": {"200": {"description": "Ready"}, "503": problem("Not ready; `failing` names the checks")}}},
            "/metrics": {"get": {"summary": "Prometheus metrics (all prefixed folio_)", "responses": {"200": {"description": "Text exposition format"}}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}},
            "/docs": {"get": {"summary": "Human-readable API documentation", "responses": {"200": {"description": "HTML"}}}}
        },
        "security": [{}, {"bearer": []}, {"apiKey": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API key from `folio keys create` (required when FOLIO_AUTH=required)"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
            },
            "schemas": {
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status", "code", "detail"],
                    "properties": {
                        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                        "code": {"type": "string", "description": "Stable machine-readable code"},
                        "detail": {"type": "string"}, "job_id": {"type": "string"}
                    }
                },
                "AdminStats": {
                    "type": "object",
                    "properties": {
                        "window_seconds": {"type": "integer"},
                        "since": {"type": "string", "format": "date-time"},
                        "now": {"type": "string", "format": "date-time"},
                        "queue": {"type": "object", "properties": {"queued": {"type": "integer"}, "running": {"type": "integer"}}},
                        "jobs": {"type": "object", "properties": {
                            "submitted": {"type": "integer"}, "finished": {"type": "integer"}, "succeeded": {"type": "integer"},
                            "failed": {"type": "integer"}, "cancelled": {"type": "integer"},
                            "per_minute": {"type": "number", "description": "Finished jobs per minute over the window"},
                            "finished_per_minute": {"type": "array", "items": {"type": "integer"}, "description": "One count per minute, oldest first"}}},
                        "failures": {"type": "object", "properties": {
                            "by_code": {"type": "array", "items": {"type": "object", "properties": {"code": {"type": "string"}, "count": {"type": "integer"}}}},
                            "recent": {"type": "array", "items": {"type": "object", "properties": {
                                "id": {"type": "string"}, "operation": {"type": "string"}, "code": {"type": "string"},
                                "message": {"type": "string"}, "finished_at": {"type": "string", "format": "date-time"}}}}}},
                        "storage": {"type": "object", "properties": {"bytes": {"type": "integer", "description": "Inputs and results of jobs whose files are kept"}, "jobs": {"type": "integer"}}},
                        "workers": {"type": "string", "enum": ["in-process", "separate"]}
                    }
                },
                "Job": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "operation": {"type": "string", "enum": ops},
                        "status": {"type": "string", "enum": ["queued", "running", "succeeded", "failed", "cancelled"]},
                        "progress": {"type": "number", "minimum": 0, "maximum": 1},
                        "priority": {"type": "integer"},
                        "attempts": {"type": "integer"},
                        "max_attempts": {"type": "integer"},
                        "cancel_requested": {"type": "boolean"},
                        "timings": {"type": "object", "properties": {
                            "queued_at": {"type": "string", "format": "date-time"},
                            "started_at": {"type": ["string", "null"], "format": "date-time"},
                            "finished_at": {"type": ["string", "null"], "format": "date-time"},
                            "queue_ms": {"type": ["integer", "null"]}, "run_ms": {"type": ["integer", "null"]}}},
                        "input": {"type": "object", "properties": {"bytes": {"type": "integer"}, "files": {"type": "array", "items": {"type": "object"}}}},
                        "output": {"type": ["object", "null"], "properties": {"name": {"type": "string"}, "media_type": {"type": "string"}, "bytes": {"type": "integer"}, "files": {"type": "array", "items": {"type": "string"}}}},
                        "options": {"type": "object"},
                        "report": {"type": ["object", "null"], "description": "The engine's report"},
                        "error": {"type": ["object", "null"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}},
                        "expires_at": {"type": "string", "format": "date-time"},
                        "expired": {"type": "boolean"},
                        "links": {"type": "object", "properties": {"self": {"type": "string"}, "events": {"type": "string"}, "result": {"type": "string"}}}
                    }
                }
            }
        }
    })
}
