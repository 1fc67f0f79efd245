// Command gen writes mailscope's dashboards as JSON: go run ./dashboards/gen
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mailscope/mailscope/dashboards"
)

func main() {
	out := flag.String("out", "dashboards", "directory to write the JSON files to")
	flag.Parse()
	all, err := dashboards.All()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	for _, d := range all {
		b, err := dashboards.JSON(d)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gen:", d.File, err)
			os.Exit(1)
		}
		if err := os.WriteFile(filepath.Join(*out, d.File), b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		fmt.Println("wrote", filepath.Join(*out, d.File))
	}
}
