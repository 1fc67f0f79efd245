package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/mdlayher/vsock"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"
)

// ServerLimits bound what one HTTP client can hold of the agent.
type ServerLimits struct {
	// ReadHeaderTimeout bounds the request line and headers (slowloris).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds the whole request, body included.
	ReadTimeout time.Duration
	// WriteTimeout bounds the response from the end of the headers: it
	// must leave room for the longest /probe (see MinWriteTimeout).
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection with no next request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers.
	MaxHeaderBytes int
	// MaxConnections caps the connections held open at once; see
	// connGuard for who gives way at the cap.
	MaxConnections int
}

// DefaultMaxConnections is --web.max-connections' default: Prometheus
// servers, a few browsers and a /probe fan-out fit with room to spare.
const DefaultMaxConnections = 64

// DefaultServerLimits are the limits of `mailscope run`.
func DefaultServerLimits() ServerLimits {
	return ServerLimits{
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      MinWriteTimeout(DefaultProbeTimeoutMax),
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		MaxConnections:    DefaultMaxConnections,
	}
}

// MinWriteTimeout is the write timeout that lets a /probe of the longest
// allowed duration answer: its run plus time to write the answer.
func MinWriteTimeout(probeTimeoutMax time.Duration) time.Duration {
	return probeTimeoutMax + 10*time.Second
}

// Server is the agent's HTTP server with its limits applied.
type Server struct {
	HTTP   *http.Server
	limits ServerLimits
	guard  *connGuard
}

// NewServer applies limits to a server for handler. Its connection guard's
// counts are registered on reg (the agent's own registry) when reg is not
// nil.
func NewServer(handler http.Handler, limits ServerLimits, reg prometheus.Registerer) *Server {
	g := newConnGuard(limits.MaxConnections, time.Now)
	s := &Server{limits: limits, guard: g, HTTP: &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: limits.ReadHeaderTimeout,
		ReadTimeout:       limits.ReadTimeout,
		WriteTimeout:      limits.WriteTimeout,
		IdleTimeout:       limits.IdleTimeout,
		MaxHeaderBytes:    limits.MaxHeaderBytes,
		ConnState:         g.ConnState,
	}}
	if reg != nil {
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "mailscope_http_connections_open",
				Help: "HTTP connections the agent holds open (at most --web.max-connections).",
			}, func() float64 { return float64(g.Open()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "mailscope_http_connections_evicted_total",
				Help: "Idle or unfinished HTTP connections closed to make room at --web.max-connections.",
			}, func() float64 { return float64(g.evicted.Load()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "mailscope_http_connections_refused_total",
				Help: "New HTTP connections closed because every held connection was serving a request.",
			}, func() float64 { return float64(g.refused.Load()) }),
		)
	}
	return s
}

// Serve serves on listeners through exporter-toolkit's web config (TLS,
// basic auth), each listener behind the connection guard. It returns when
// the server stops.
func (s *Server) Serve(listeners []net.Listener, flags *web.FlagConfig, logger *slog.Logger) error {
	webCfg := ""
	if flags.WebConfigFile != nil {
		webCfg = *flags.WebConfigFile
	}
	warnIfExposed(listeners, webCfg, logger)
	guarded := make([]net.Listener, len(listeners))
	for i, l := range listeners {
		guarded[i] = s.guard.Listener(l)
	}
	return web.ServeMultiple(guarded, s.HTTP, flags, logger)
}

// ListenAndServe opens the listeners the web flags name (addresses,
// vsock:// addresses or systemd's sockets), as exporter-toolkit's
// web.ListenAndServe does, and serves on them.
func (s *Server) ListenAndServe(flags *web.FlagConfig, logger *slog.Logger) error {
	ls, err := Listen(flags, logger)
	if err != nil {
		return err
	}
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	return s.Serve(ls, flags, logger)
}

// Listen opens the listeners the web flags name.
func Listen(flags *web.FlagConfig, logger *slog.Logger) ([]net.Listener, error) {
	if flags.WebSystemdSocket != nil && *flags.WebSystemdSocket {
		logger.Info("Listening on systemd activated listeners instead of port listeners.")
		ls, err := activation.Listeners()
		if err != nil {
			return nil, fmt.Errorf("systemd socket activation: %w", err)
		}
		if len(ls) == 0 {
			return nil, errors.New("no socket activation file descriptors found")
		}
		return ls, nil
	}
	var ls []net.Listener
	for _, addr := range *flags.WebListenAddresses {
		var l net.Listener
		var err error
		if strings.HasPrefix(addr, "vsock://") {
			l, err = listenVsock(addr)
		} else {
			l, err = net.Listen("tcp", addr)
		}
		if err != nil {
			for _, open := range ls {
				_ = open.Close()
			}
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
		ls = append(ls, l)
	}
	return ls, nil
}

func listenVsock(addr string) (net.Listener, error) {
	_, hostPort, _ := strings.Cut(addr, "://")
	_, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return nil, err
	}
	var p uint32
	if _, err := fmt.Sscanf(port, "%d", &p); err != nil {
		return nil, fmt.Errorf("vsock port %q: %w", port, err)
	}
	return vsock.Listen(p, nil)
}

// DefaultProbeTimeoutMax is the longest a /probe may run unless the config
// says otherwise.
const DefaultProbeTimeoutMax = 30 * time.Second
