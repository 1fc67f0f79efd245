package main

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
)

// replayHTML is the page of `mailscope replay --format=html`: the
// summary's sections in one file with inline CSS and SVG, no script and
// nothing fetched, so it can be mailed and opened anywhere.
//
//go:embed replay_report.html
var replayHTML string

var replayTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"trafficChart": trafficChart,
	"barWidth":     barWidth,
	"joinCounts":   joinCounts,
	"seconds":      func(v float64) string { return fmt.Sprintf("%.2fs", v) },
}).Parse(replayHTML))

func writeReplayHTML(w io.Writer, c replayCounts) error {
	return replayTemplate.Execute(w, c)
}

// trafficChart draws the traffic rows as stacked bars (delivered,
// deferred, bounced and expired, rejected) over received as a line, an
// inline SVG that scales with the page.
func trafficChart(rows []trafficRow) template.HTML {
	if len(rows) == 0 {
		return ""
	}
	const w, h, pad = 720.0, 160.0, 4.0
	var peak int64 = 1
	for _, r := range rows {
		peak = max(peak, r.Delivered+r.Deferred+r.Bounced+r.Expired+r.Rejected, r.Received)
	}
	bw := (w - 2*pad) / float64(len(rows))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="traffic per interval">`, w, h+16)
	scale := (h - pad) / float64(peak)
	var line []string
	for i, r := range rows {
		x := pad + float64(i)*bw
		y := h
		for _, part := range []struct {
			n     int64
			class string
		}{{r.Delivered, "delivered"}, {r.Deferred, "deferred"}, {r.Bounced + r.Expired, "bounced"}, {r.Rejected, "rejected"}} {
			if part.n == 0 {
				continue
			}
			bh := float64(part.n) * scale
			y -= bh
			fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s %s: %d</title></rect>`,
				part.class, x+0.5, y, max(bw-1, 0.5), bh, template.HTMLEscapeString(r.Start), part.class, part.n)
		}
		line = append(line, fmt.Sprintf("%.1f,%.1f", x+bw/2, h-float64(r.Received)*scale))
	}
	fmt.Fprintf(&b, `<polyline class="received" points="%s"/>`, strings.Join(line, " "))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%s</text><text x="%.0f" y="%.0f" text-anchor="end">%s</text>`,
		pad, h+14, template.HTMLEscapeString(rows[0].Start), w-pad, h+14, template.HTMLEscapeString(rows[len(rows)-1].Start))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// barWidth is a row's share of the largest value in a column, as a CSS
// width for the inline bars of the tables.
func barWidth(v int64, rows []deliveryRow) string {
	peak := int64(1)
	for _, r := range rows {
		peak = max(peak, r.Sent+r.Deferred+r.Bounced)
	}
	return fmt.Sprintf("%.1f%%", 100*float64(v)/float64(peak))
}
