package source

import (
	"io"
	"os"
	"strings"
)

// journaldDroppedID is journald's MESSAGE_ID for "Suppressed N messages
// from UNIT" (SD_MESSAGE_JOURNAL_DROPPED), written with _TRANSPORT=driver.
const journaldDroppedID = "a596d6fe7bfa4994828e72309e95d61e"

// command returns journalctl's arguments for the next run, and the cursor
// of the entry it starts at, which is not handed on again (empty when the
// run starts at a time or per start_at).
//
// The start:
//   - a cursor: --cursor, not --after-cursor. journalctl 252 skips one
//     entry more than asked when the cursor's entry was vacuumed away
//     (it steps over "the cursor's entry" without checking that it found
//     it), so the run starts at the cursor and the source drops that entry
//     itself when journalctl shows it.
//   - a refused cursor's time: --since=@T.
//   - start_at: --no-tail (beginning) or --lines=0 (end).
//
// --no-tail with a cursor or a time: --follow alone means --lines=10, ten
// entries and the rest only once the journal changes again. --merge: --follow alone also means --boot, the latest
// boot only, losing the entries of the boot before a reboot that came
// after the cursor, and (with directory:) every entry of a boot that is
// not the latest in the files.
func (s *JournaldSource) command() (args []string, resumeFrom string) {
	args = []string{"--output=json", "--follow", "--merge", "--all", "--no-pager"}
	s.mu.Lock()
	cursor, since, refused := s.cursor, s.since, s.resumeFrom
	s.mu.Unlock()
	switch {
	case cursor != "":
		args = append(args, "--cursor="+cursor, "--no-tail")
		resumeFrom = cursor
	case !since.IsZero():
		args = append(args, sinceArgument(since), "--no-tail")
		resumeFrom = refused
	case s.cfg.StartAt == "beginning":
		args = append(args, "--no-tail")
	default:
		args = append(args, "--lines=0")
	}
	if s.cfg.Directory != "" {
		args = append(args, "--directory="+s.cfg.Directory)
	}
	return append(args, s.matches()...), resumeFrom
}

// matches are journalctl's filters. Matches of one field are ORed,
// different fields ANDed, and "+" ORs groups: the units, the identifiers,
// and journald's rate-limit entries about the units. --merge would also
// read other machines' journals (containers, journal-remote) from the
// system journal: each group is limited to this machine's ID there.
func (s *JournaldSource) matches() []string {
	var machine string
	if s.cfg.Directory == "" {
		machine = s.machineID()
	}
	var groups [][]string
	var units, objects, idents []string
	for _, u := range s.cfg.Units {
		units = append(units, "_SYSTEMD_UNIT="+u)
		objects = append(objects, "OBJECT_SYSTEMD_UNIT="+u)
	}
	for _, id := range s.cfg.Identifiers {
		idents = append(idents, "SYSLOG_IDENTIFIER="+id)
	}
	if len(units) > 0 {
		groups = append(groups, units)
	}
	if len(idents) > 0 {
		groups = append(groups, idents)
	}
	if len(objects) > 0 {
		groups = append(groups, append([]string{"MESSAGE_ID=" + journaldDroppedID, "_TRANSPORT=driver"}, objects...))
	}
	var args []string
	for i, g := range groups {
		if i > 0 {
			args = append(args, "+")
		}
		args = append(args, g...)
		if machine != "" {
			args = append(args, "_MACHINE_ID="+machine)
		}
	}
	return args
}

// machineID reads this machine's ID, or "" when it cannot (then the
// system journal is read whole, as journalctl --merge does).
func (s *JournaldSource) machineID() string {
	f, err := os.Open(s.machineIDFile)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 64))
	id := strings.TrimSpace(string(b))
	if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
		return ""
	}
	return id
}
