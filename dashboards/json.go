package dashboards

import (
	"bytes"
	"encoding/json"
)

// inputs is what Grafana's import dialog asks for: the Prometheus data
// source that DS_PROMETHEUS stands for.
var inputs = []map[string]string{{
	"name": "DS_PROMETHEUS", "label": "Prometheus", "description": "The Prometheus that scrapes mailscope",
	"type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus",
}}

// JSON renders a dashboard for import: the SDK's model plus the __inputs
// block that makes Grafana ask for the data source.
func JSON(d Dashboard) ([]byte, error) {
	model, err := json.Marshal(d.Model)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(model, &m); err != nil {
		return nil, err
	}
	m["__inputs"] = inputs
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
