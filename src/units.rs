//! Numbers as people write them: counts (`1e6`, `1_000_000`), sizes with units (`50MB`,
//! `2 GiB`, `5e7`) and durations in seconds. Used for `MPIVIEW_*` settings and by the apps'
//! command lines, so that both accept the same spellings.

/// Parses a count: `1000000`, `1_000_000`, `1e6`, `2.5e3` (a float form must be a whole number).
///
/// ```
/// use mpiview::units::parse_count;
/// assert_eq!(parse_count("1_000_000"), Ok(1_000_000));
/// assert_eq!(parse_count("1e9"), Ok(1_000_000_000));
/// assert!(parse_count("1.5").is_err());
/// assert!(parse_count("-3").is_err());
/// ```
pub fn parse_count(s: &str) -> Result<u64, String> {
    let t = s.trim().replace('_', "");
    if t.is_empty() {
        return Err("an empty number".into());
    }
    if let Ok(n) = t.parse::<u64>() {
        return Ok(n);
    }
    let x: f64 = t
        .parse()
        .map_err(|_| format!("`{s}` is not a number (write 1000000, 1_000_000 or 1e6)"))?;
    if !x.is_finite() || x < 0.0 {
        return Err(format!("`{s}` is not a non-negative count"));
    }
    if x.fract() != 0.0 {
        return Err(format!("`{s}` is not a whole number"));
    }
    if x >= 18_446_744_073_709_551_616.0 {
        return Err(format!("`{s}` is too large"));
    }
    Ok(x as u64)
}

/// Parses a size in bytes: a count (`50000000`, `5e7`) or a number with a unit: `kB`, `MB`,
/// `GB`, `TB` (powers of 1000) or `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024), in any case,
/// with or without a space; `B` alone means bytes.
///
/// ```
/// use mpiview::units::parse_size;
/// assert_eq!(parse_size("5e7"), Ok(50_000_000));
/// assert_eq!(parse_size("50MB"), Ok(50_000_000));
/// assert_eq!(parse_size("1.5 GiB"), Ok(1_610_612_736));
/// assert!(parse_size("50 parsecs").is_err());
/// assert!(parse_size("-1MB").is_err());
/// ```
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim().replace('_', "");
    let split = t
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let scale: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        "ti" | "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "`{s}` is not a size (write 5e7, 50MB or 2GiB: units B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)"
            ));
        }
    };
    let number = number.trim();
    if scale == 1 {
        return parse_count(number).map_err(|e| format!("`{s}` is not a size: {e}"));
    }
    let x: f64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a size (write 5e7, 50MB or 2GiB)"))?;
    let bytes = x * scale as f64;
    if !(0.0..18_446_744_073_709_551_616.0).contains(&bytes) {
        return Err(format!("`{s}` is not a size in range"));
    }
    Ok(bytes.round() as u64)
}

/// Parses a duration in seconds: a finite, non-negative number (`3`, `0.5`, `1e-3`).
///
/// ```
/// use mpiview::units::parse_seconds;
/// assert_eq!(parse_seconds("0.5"), Ok(std::time::Duration::from_millis(500)));
/// assert!(parse_seconds("-1").is_err());
/// assert!(parse_seconds("inf").is_err());
/// ```
pub fn parse_seconds(s: &str) -> Result<std::time::Duration, String> {
    let x: f64 = s
        .trim()
        .replace('_', "")
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !(0.0..=1e9).contains(&x) {
        return Err(format!(
            "`{s}` is not a number of seconds from 0 to 1e9 (finite, not negative)"
        ));
    }
    Ok(std::time::Duration::from_secs_f64(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_in_every_spelling() {
        assert_eq!(parse_count("100"), Ok(100));
        assert_eq!(parse_count("1_000"), Ok(1000));
        assert_eq!(parse_count("1e10"), Ok(10_000_000_000));
        assert_eq!(parse_count("2.5e3"), Ok(2500));
        assert_eq!(parse_count(" 7 "), Ok(7));
        assert!(parse_count("").is_err());
        assert!(parse_count("abc").is_err());
        assert!(parse_count("1e30").is_err());
        assert!(parse_count("nan").is_err());
    }

    #[test]
    fn sizes_with_and_without_units() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("2kB"), Ok(2000));
        assert_eq!(parse_size("2 KiB"), Ok(2048));
        assert_eq!(parse_size("3gb"), Ok(3_000_000_000));
        assert_eq!(parse_size("1e3MB"), Ok(1_000_000_000));
        assert_eq!(parse_size("10B"), Ok(10));
        assert!(parse_size("").is_err());
        assert!(parse_size("MB").is_err());
        assert!(parse_size("1.5").is_err());
        assert!(parse_size("1e30 TB").is_err());
        assert!(parse_size("inf GB").is_err());
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("3"), Ok(std::time::Duration::from_secs(3)));
        assert_eq!(parse_seconds("0"), Ok(std::time::Duration::ZERO));
        assert!(parse_seconds("nan").is_err());
        assert!(parse_seconds("1e10").is_err());
        assert!(parse_seconds("").is_err());
    }
}
