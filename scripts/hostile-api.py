#!/usr/bin/env python3
"""The hostile corpus through the API.

Starts `folio serve` (debug or release binary) on a free port, POSTs every
file of ../shared/corpus/pdfjs to /v1/compress and /v1/text, and checks:
each answer is a result (200) or a problem document with a `code`; the
server's PID never changes and it never stops answering; /health/ready is OK
at the end. Prints the peak RSS of the server process (the jobs themselves
run in child processes with their own limits).

Usage: scripts/hostile-api.py [--bin PATH] [--corpus DIR] [--limit N]
Standard library only.
"""
import argparse, json, os, subprocess, sys, tempfile, time, urllib.request, urllib.error, uuid
from collections import Counter


def multipart(name, data, fields):
    b = uuid.uuid4().hex
    out = bytearray()
    for k, v in fields.items():
        out += f'--{b}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    out += (f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            'Content-Type: application/pdf\r\n\r\n').encode()
    out += data + b'\r\n' + f'--{b}--\r\n'.encode()
    return f'multipart/form-data; boundary={b}', bytes(out)


def rss_kb(pid):
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        return None
    return 0


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser()
    target = os.environ.get('CARGO_TARGET_DIR', os.path.join(root, 'target'))
    ap.add_argument('--bin', default=os.path.join(target, 'debug', 'folio'))
    corpus = next((os.path.join(d, 'shared', 'corpus', 'pdfjs') for d in
                   [root, os.path.dirname(root), os.path.dirname(os.path.dirname(root))]
                   if os.path.isdir(os.path.join(d, 'shared', 'corpus', 'pdfjs'))), None)
    ap.add_argument('--corpus', default=corpus)
    ap.add_argument('--limit', type=int, default=0)
    ap.add_argument('--ops', default='compress,text')
    a = ap.parse_args()
    files = sorted(f for f in os.listdir(a.corpus) if os.path.isfile(os.path.join(a.corpus, f)))
    if a.limit:
        files = files[:a.limit]
    data_dir = tempfile.mkdtemp(prefix='folio-hostile-')
    env = dict(os.environ, FOLIO_LOG_LEVEL='warn', FOLIO_RATE_LIMIT_UPLOADS='off',
               FOLIO_RATE_LIMIT_READS='off', FOLIO_CACHE='false', FOLIO_JOB_TIMEOUT='60s',
               FOLIO_JOB_HARD_TIMEOUT='70s', FOLIO_SYNC_WAIT='90s')
    log = open(os.path.join(data_dir, 'server.log'), 'w')
    p = subprocess.Popen([a.bin, 'serve', '--listen', '127.0.0.1:0', '--data-dir', data_dir],
                         stdout=subprocess.PIPE, stderr=log, env=env, text=True)
    line = p.stdout.readline()
    base = line.strip().split('folio listening on ')[1]
    pid = p.pid
    peak = 0
    outcomes = Counter()
    bad = []
    t0 = time.time()
    for i, f in enumerate(files):
        data = open(os.path.join(a.corpus, f), 'rb').read()
        for op in a.ops.split(','):
            ct, body = multipart(f, data, {})
            req = urllib.request.Request(f'{base}/v1/{op}', data=body, method='POST',
                                         headers={'Content-Type': ct})
            try:
                with urllib.request.urlopen(req, timeout=300) as r:
                    r.read()
                    outcomes[(op, r.status, 'result')] += 1
            except urllib.error.HTTPError as e:
                txt = e.read()
                try:
                    code = json.loads(txt).get('code')
                except ValueError:
                    code = None
                if not code or e.headers.get('content-type') != 'application/problem+json':
                    bad.append((f, op, e.code, txt[:200]))
                outcomes[(op, e.code, code)] += 1
                if e.code >= 500:
                    bad.append((f, op, e.code, code))
            except Exception as e:  # connection refused/reset: the server died
                bad.append((f, op, 'exception', repr(e)))
            if p.poll() is not None:
                print(f'SERVER EXITED after {f}: {p.returncode}', file=sys.stderr)
                sys.exit(1)
            peak = max(peak, rss_kb(pid) or 0)
        if (i + 1) % 50 == 0:
            print(f'{i + 1}/{len(files)} files, {time.time() - t0:.0f}s, peak RSS {peak // 1024} MB', flush=True)
    with urllib.request.urlopen(f'{base}/health/ready', timeout=30) as r:
        ready = r.status
    same = p.poll() is None and p.pid == pid
    p.terminate()
    p.wait(timeout=60)
    print(json.dumps({
        'files': len(files), 'seconds': round(time.time() - t0),
        'server_pid_unchanged': same, 'ready_at_end': ready,
        'peak_rss_mb': round(peak / 1024, 1),
        'outcomes': {f'{op} {st} {code}': n for (op, st, code), n in sorted(outcomes.items(), key=str)},
        'bad': bad[:50],
    }, indent=1))
    sys.exit(0 if same and ready == 200 and not bad else 1)


if __name__ == '__main__':
    main()
