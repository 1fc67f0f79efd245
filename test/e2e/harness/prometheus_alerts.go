package harness

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Alert is one alert of Prometheus's /api/v1/alerts: an alerting rule's
// series that is pending or firing.
type Alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	// State is "pending" or "firing".
	State string `json:"state"`
}

// Alerts returns the alerts Prometheus's rules hold now.
func (p *Prometheus) Alerts() ([]Alert, error) {
	resp, err := http.Get(p.URL + "/api/v1/alerts")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Alerts []Alert `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("/api/v1/alerts: %s", body.Error)
	}
	return body.Data.Alerts, nil
}
