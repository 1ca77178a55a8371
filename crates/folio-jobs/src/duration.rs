//! Human durations for configuration (`FOLIO_RETENTION=1h`): a sequence of
//! `<number><unit>` with units `ms`, `s`, `m`, `h`, `d`; a bare number is seconds.

use std::time::Duration;

/// Parse `1h`, `90s`, `1h30m`, `250ms`, `2d` or a bare number of seconds.
pub fn parse(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| format!("duration '{s}' lacks a unit after the last number"))?;
        if digits == 0 {
            return Err(format!(
                "duration '{s}' should look like 1h, 30m, 90s or 250ms"
            ));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("number too large in duration '{s}'"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(n),
            "s" | "sec" | "secs" => Duration::from_secs(n),
            "m" | "min" | "mins" => Duration::from_secs(n.saturating_mul(60)),
            "h" | "hour" | "hours" => Duration::from_secs(n.saturating_mul(3600)),
            "d" | "day" | "days" => Duration::from_secs(n.saturating_mul(86_400)),
            other => return Err(format!("unknown unit '{other}' in duration '{s}'")),
        };
        total = total.saturating_add(part);
    }
    Ok(total)
}

/// The shortest exact rendering of `d` in the units [`parse`] accepts.
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let mut secs = d.as_secs();
    let mut out = String::new();
    for (unit, len) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= len {
            out.push_str(&format!("{}{unit}", secs / len));
            secs %= len;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_compounds() {
        assert_eq!(parse("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse(" 2d ").unwrap(), Duration::from_secs(172_800));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "h", "1x", "1h2", "-1s", "1.5h"] {
            assert!(parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn format_round_trips() {
        for s in ["1h", "1h30m", "250ms", "2d", "45s", "0s"] {
            assert_eq!(format(parse(s).unwrap()), s);
        }
    }
}
