package main

import (
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/common/version"
)

// fallbackVersion names a build from a clone without the Makefile's
// -ldflags (go run, go build): the next release, in development.
const fallbackVersion = "0.1.0-dev"

// unknown fills the build facts no source could give.
const unknown = "unknown"

// stampVersion fills what the linker did not stamp into
// prometheus/common/version (the Makefile stamps everything; go run and
// go install stamp nothing) from the Go build info: the module version
// when go install fetched a tagged release, the VCS revision, commit time
// and modified flag when the build ran in a checkout with -buildvcs. What
// is still missing says so rather than staying blank.
func stampVersion(info *debug.BuildInfo, ok bool) {
	settings := map[string]string{}
	mainVersion := ""
	if ok && info != nil {
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		mainVersion = info.Main.Version
	}
	if version.Version == "" {
		version.Version = fallbackVersion
		// go install m@v0.1.0 gives "v0.1.0"; a build in a checkout
		// with VCS stamping gives the tag, or a pseudo-version naming
		// the commit (v0.1.1-0.20261206...-abcdef), "+dirty" when
		// changed; without stamping, "(devel)".
		if v, isModule := strings.CutPrefix(mainVersion, "v"); isModule {
			version.Version = v
		}
	}
	if version.Revision == "" {
		if rev := settings["vcs.revision"]; rev != "" {
			if settings["vcs.modified"] == "true" {
				rev += "-modified"
			}
			version.Revision = rev
		} else {
			version.Revision = unknown
		}
	}
	if version.BuildDate == "" {
		version.BuildDate = unknown
		// The commit time: a go install build has no build time that
		// would mean anything, and this one is reproducible.
		if t, err := time.Parse(time.RFC3339, settings["vcs.time"]); err == nil {
			version.BuildDate = t.UTC().Format("20060102-15:04:05")
		}
	}
	if version.Branch == "" {
		version.Branch = unknown
	}
	if version.BuildUser == "" {
		version.BuildUser = unknown
	}
}
