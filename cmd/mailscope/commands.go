package main

import (
	"io"

	"github.com/alecthomas/kingpin/v2"
)

// subcommand is a command that a file of this package adds from its init
// function (probe dnsbl, probe domain, replay ...), so main.go need not
// change for each one.
type subcommand struct {
	clause *kingpin.CmdClause
	// run executes the parsed command and returns the exit code.
	run func(stdout, stderr io.Writer) int
}

// commandAdders build the extra subcommands on the application.
var commandAdders []func(app *kingpin.Application, probe *kingpin.CmdClause) subcommand

// addSubcommands adds every registered subcommand; "probe" is the parent of
// the on-demand checks (mailscope probe dnsbl ...), created only when a
// check registers under it.
func addSubcommands(app *kingpin.Application) []subcommand {
	if len(commandAdders) == 0 {
		return nil
	}
	probe := app.Command("probe", "Check targets once and print a human-readable report. Exit codes: 0 all good, 1 a problem found, 2 could not check.")
	out := make([]subcommand, 0, len(commandAdders))
	for _, add := range commandAdders {
		out = append(out, add(app, probe))
	}
	return out
}
