// Command mailscope watches a company's own mail infrastructure and serves
// what it sees as Prometheus metrics and OpenTelemetry traces.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/mailscope/mailscope/agent"
	_ "github.com/mailscope/mailscope/collectors/all" // registers the collectors
	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/postconf"
)

// defaultListenAddress is mailscope's port, next to the exporters' range.
const defaultListenAddress = ":9754"

func main() {
	stampVersion(debug.ReadBuildInfo())
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	app := kingpin.New("mailscope", "Watches your own mail infrastructure: MTA logs, blocklists, DNS and TLS posture, inbox placement. Serves Prometheus metrics and OpenTelemetry traces.")
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)
	app.HelpFlag.Short('h')
	showVersion := app.Flag("version", "Print the version and exit (as the version command).").Bool()
	configFile := app.Flag("config.file", "mailscope configuration file. Default: "+agent.DefaultConfigFile+" if it exists, else a built-in zero-config default.").String()
	webFlags := kingpinflag.AddFlags(app, defaultListenAddress)
	telemetryPath := app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
	maxConns := app.Flag("web.max-connections", "Most HTTP connections held open at once; at the cap, a new connection replaces the oldest idle or unfinished one.").Default(strconv.Itoa(agent.DefaultMaxConnections)).Int()
	postfixDir := app.Flag("postfix.config-dir", "Postfix instance (postconf -c) whose settings a zero-config start reads. Default: the default instance.").Default("").String()
	logCfg := &promslog.Config{Writer: stderr}
	promslogflag.AddFlags(app, logCfg)

	runCmd := app.Command("run", "Run the agent (the default).").Default()
	checkCmd := app.Command("check-config", "Validate the configuration, print every problem, and exit 1 if there is any.")
	versionCmd := app.Command("version", "Print the version and exit.")
	extra := addSubcommands(app)

	cmd, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "mailscope: %v (try --help)\n", err)
		return 2
	}
	if *showVersion {
		cmd = versionCmd.FullCommand()
	}
	for _, c := range extra {
		if cmd == c.clause.FullCommand() {
			return c.run(stdout, stderr)
		}
	}
	switch cmd {
	case versionCmd.FullCommand():
		fmt.Fprintln(stdout, version.Print("mailscope"))
		return 0
	case checkCmd.FullCommand():
		return checkConfig(*configFile, *postfixDir, stdout, stderr)
	case runCmd.FullCommand():
		logger := promslog.New(logCfg)
		limits := agent.DefaultServerLimits()
		limits.MaxConnections = *maxConns
		return runAgent(logger, agent.Options{ConfigFile: *configFile, Logger: logger, Version: version.Version, DetectPostfix: detectPostfix(*postfixDir)}, webFlags, limits, *telemetryPath, stderr)
	}
	return 2
}

// checkConfig validates the config the agent would load.
func checkConfig(file, postfixDir string, stdout, stderr io.Writer) int {
	a, err := agent.New(agent.Options{ConfigFile: file, Version: version.Version, DetectPostfix: detectPostfix(postfixDir)})
	if err != nil {
		printProblems(stderr, err)
		return 1
	}
	cfg := a.Config()
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, "warning: "+w.Error())
	}
	var names []string
	for _, s := range cfg.Enabled() {
		names = append(names, s.Name)
	}
	enabled := strings.Join(names, ", ")
	if enabled == "" {
		enabled = "none (self-metrics only)"
	}
	fmt.Fprintf(stdout, "%s: OK\nCollectors enabled: %s\n", cfg.Source, enabled)
	return 0
}

// printProblems prints every config problem on its own line, then a count.
func printProblems(w io.Writer, err error) {
	var ps config.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			fmt.Fprintln(w, p.Error())
		}
		noun := "problems"
		if len(ps) == 1 {
			noun = "problem"
		}
		fmt.Fprintf(w, "%d config %s found\n", len(ps), noun)
		return
	}
	fmt.Fprintln(w, err)
}

// detectPostfix asks the Postfix instance in dir ("" for the default one).
func detectPostfix(dir string) func(context.Context) (*postconf.Facts, error) {
	return func(ctx context.Context) (*postconf.Facts, error) { return postconf.Detect(ctx, dir) }
}

func runAgent(logger *slog.Logger, opts agent.Options, webFlags *web.FlagConfig, limits agent.ServerLimits, telemetryPath string, stderr io.Writer) int {
	if limits.MaxConnections < 1 {
		fmt.Fprintf(stderr, "mailscope: --web.max-connections must be at least 1, got %d\n", limits.MaxConnections)
		return 2
	}
	logger.Info("Starting mailscope", "version", version.Info())
	logger.Info("Build context", "build_context", version.BuildContext())
	a, err := agent.New(opts)
	if err != nil {
		logger.Error("Refusing to start: the config has problems")
		printProblems(stderr, err)
		return 1
	}
	if err := a.LockStateDir(); err != nil {
		logger.Error("Refusing to start", "err", err)
		fmt.Fprintf(stderr, "mailscope: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				logger.Info("SIGHUP received: reloading the config")
				_ = a.Reload() // Reload logs its own outcome
			}
		}
	}()

	// The write timeout leaves room for the longest probe the config
	// allows at start; a reload that raises probe.timeout_max stays within it.
	limits.WriteTimeout = agent.MinWriteTimeout(a.Config().Probe.TimeoutMax)
	srv := agent.NewServer(a.Handler(agent.HandlerOptions{TelemetryPath: telemetryPath, WriteTimeout: limits.WriteTimeout}), limits, a.Registry())
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.ListenAndServe(webFlags, logger) }()

	agentDone := make(chan error, 1)
	go func() { agentDone <- a.Run(ctx) }()

	code := 0
	select {
	case err := <-srvErr:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("HTTP server failed", "err", err)
			code = 1
		}
		stop()
	case <-ctx.Done():
		logger.Info("Shutting down")
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.HTTP.Shutdown(shutCtx)
	if err := <-agentDone; err != nil {
		logger.Error("Shutdown", "err", err)
		code = 1
	}
	logger.Info("Stopped")
	return code
}
