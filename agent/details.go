package agent

import (
	"strings"
	"unicode/utf8"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/internal/config"
)

// boundDetails keeps what a collector's StatusDetails may show: at most
// collectors.MaxDetailTables tables of at most collectors.MaxDetailRows
// rows (the rest counted in Omitted), each row as many cells as columns,
// each cell valid UTF-8 of at most collectors.MaxDetailCell bytes with the
// configured secrets scrubbed. The template escapes what is left.
func boundDetails(tables []collectors.DetailTable, sc *config.Scrubber) []collectors.DetailTable {
	if len(tables) > collectors.MaxDetailTables {
		tables = tables[:collectors.MaxDetailTables]
	}
	out := make([]collectors.DetailTable, 0, len(tables))
	for _, t := range tables {
		b := t
		b.ID = detailID(t.ID)
		b.Title, b.Note, b.Empty = boundCell(t.Title, sc), boundCell(t.Note, sc), boundCell(t.Empty, sc)
		b.Columns = make([]string, len(t.Columns))
		b.NoWrap = make([]bool, len(t.Columns))
		for i, c := range t.Columns {
			b.Columns[i] = boundCell(c, sc)
			b.NoWrap[i] = i < len(t.NoWrap) && t.NoWrap[i]
		}
		rows := t.Rows
		if len(rows) > collectors.MaxDetailRows {
			b.Omitted += len(rows) - collectors.MaxDetailRows
			rows = rows[:collectors.MaxDetailRows]
		}
		b.Rows = make([][]string, len(rows))
		for i, r := range rows {
			cells := make([]string, len(t.Columns))
			for j := range cells {
				if j < len(r) {
					cells[j] = boundCell(r[j], sc)
				}
			}
			b.Rows[i] = cells
		}
		out = append(out, b)
	}
	return out
}

// boundCell scrubs secrets, replaces invalid UTF-8 and control characters,
// and cuts the text to collectors.MaxDetailCell bytes.
func boundCell(s string, sc *config.Scrubber) string {
	if sc != nil {
		s = sc.Scrub(s)
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) <= collectors.MaxDetailCell {
		return s
	}
	cut := collectors.MaxDetailCell - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// detailID keeps letters, digits, '-' and '.' of a table's ID, so it is
// safe in an id attribute and a CSS selector.
func detailID(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < utf8.RuneSelf && (r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		}
		if b.Len() >= 80 {
			break
		}
	}
	return b.String()
}
