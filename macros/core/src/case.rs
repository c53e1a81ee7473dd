//! Name conversions and "did you mean" suggestions.

/// The derive's snake case, for model names and enum values:
/// `ProjectStatus` → `project_status`, `HTTPRequest` → `http_request`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None | Some('_') => false,
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_uppercase() => next.is_some_and(char::is_lowercase),
                Some(_) => false,
            };
            if boundary {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `s` is a plain SQL identifier: `[a-z_][a-z0-9_]*`, at most 63 bytes.
pub(crate) fn is_sql_ident(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'_'))
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
        && s.len() <= 63
}

/// The candidate closest to `unknown`, if it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(unknown: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(unknown, c), *c))
        .filter(|(d, c)| *d <= (c.len().max(unknown.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edit distance over chars, counting a swap of two neighbours as one edit
/// (optimal string alignment), so `tabel` is one edit from `table`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake() {
        for (input, expect) in [
            ("Project", "project"),
            ("ProjectStatus", "project_status"),
            ("HTTPRequest", "http_request"),
            ("Task2Item", "task2_item"),
            ("ApiKey", "api_key"),
            ("A", "a"),
            ("InProgress", "in_progress"),
        ] {
            assert_eq!(snake_case(input), expect, "{input}");
        }
    }

    #[test]
    fn suggestions() {
        let keys = ["max_len", "min", "max", "text", "unique"];
        assert_eq!(suggest("max_length", &keys), Some("max_len"));
        assert_eq!(suggest("maxlen", &keys), Some("max_len"));
        assert_eq!(suggest("uniqe", &keys), Some("unique"));
        assert_eq!(suggest("zzz", &keys), None);
        assert_eq!(suggest("tabel", &["table", "id", "sort"]), Some("table"));
    }

    #[test]
    fn sql_idents() {
        assert!(is_sql_ident("project_id"));
        assert!(is_sql_ident("_x1"));
        assert!(!is_sql_ident("Project"));
        assert!(!is_sql_ident("1x"));
        assert!(!is_sql_ident("a-b"));
        assert!(!is_sql_ident(""));
    }
}
