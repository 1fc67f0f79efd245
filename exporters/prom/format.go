package prom

import (
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

func labelString(ls []*dto.LabelPair) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.GetName() + "=" + strconv.Quote(l.GetValue())
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func valueString(m *dto.Metric) string {
	switch {
	case m.Gauge != nil:
		return strconv.FormatFloat(m.GetGauge().GetValue(), 'g', -1, 64)
	case m.Counter != nil:
		return strconv.FormatFloat(m.GetCounter().GetValue(), 'g', -1, 64)
	case m.Untyped != nil:
		return strconv.FormatFloat(m.GetUntyped().GetValue(), 'g', -1, 64)
	case m.Histogram != nil:
		return "histogram count=" + strconv.FormatUint(m.GetHistogram().GetSampleCount(), 10)
	case m.Summary != nil:
		return "summary count=" + strconv.FormatUint(m.GetSummary().GetSampleCount(), 10)
	}
	return ""
}
