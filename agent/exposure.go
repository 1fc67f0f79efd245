package agent

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"

	"go.yaml.in/yaml/v3"
)

// webConfigLimit caps the web config file read to judge exposure.
const webConfigLimit = 1 << 20

// warnIfExposed logs a warning for each listener reachable beyond this
// host (not loopback) while the web config sets neither TLS nor basic
// auth: anyone who reaches the port then reads the status page and the
// config (secrets redacted), reloads the config, and runs /probe.
func warnIfExposed(listeners []net.Listener, webConfigFile string, logger *slog.Logger) {
	tls, auth, err := webProtection(webConfigFile)
	if err != nil {
		// exporter-toolkit reports the file's problems itself.
		return
	}
	if tls || auth {
		return
	}
	for _, l := range listeners {
		a, ok := l.Addr().(*net.TCPAddr)
		if !ok || a.IP.IsLoopback() {
			continue
		}
		logger.Warn("The HTTP listener is reachable beyond this host without TLS or authentication: anyone who reaches it can read the status page and running config and trigger reloads and /probe. Listen on 127.0.0.1, or set tls_server_config and basic_auth_users in --web.config.file (see docs/security.md)",
			"address", a.String())
	}
}

// webProtection reads whether an exporter-toolkit web config sets up TLS
// and basic auth. No file is neither.
func webProtection(file string) (tls, auth bool, err error) {
	if file == "" {
		return false, false, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return false, false, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, webConfigLimit))
	if err != nil {
		return false, false, err
	}
	var c struct {
		TLS struct {
			CertFile string `yaml:"cert_file"`
			Cert     string `yaml:"cert"`
		} `yaml:"tls_server_config"`
		Users map[string]string `yaml:"basic_auth_users"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		return false, false, fmt.Errorf("web config %s: %w", file, err)
	}
	return c.TLS.CertFile != "" || c.TLS.Cert != "", len(c.Users) > 0, nil
}
