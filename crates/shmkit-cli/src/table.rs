//! Columns for people: `ls` and `top` print their rows through here.

/// The lines of a table: `header`, then `rows`, each column as wide as its widest cell,
/// two spaces apart; the columns in `right` are right-aligned (numbers), the others left.
/// Trailing spaces are trimmed.
pub fn render<S: AsRef<str>>(header: &[&str], rows: &[Vec<S>], right: &[usize]) -> Vec<String> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.as_ref().chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let cols: Vec<String> = cells
            .zip(&widths)
            .enumerate()
            .map(|(k, (c, &w))| match right.contains(&k) {
                true => format!("{c:>w$}"),
                false => format!("{c:<w$}"),
            })
            .collect();
        cols.join("  ").trim_end().to_owned()
    };
    std::iter::once(line(&mut header.iter().copied()))
        .chain(rows.iter().map(|r| line(&mut r.iter().map(AsRef::as_ref))))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let rows = vec![vec!["a", "1"], vec!["long name", "1000"]];
        assert_eq!(
            super::render(&["NAME", "N"], &rows, &[1]),
            ["NAME          N", "a             1", "long name  1000"]
        );
    }
}
