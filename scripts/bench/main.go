// Command bench is `make bench`: auditwarden's speed and memory at scale against localcloud
// (30 ms a call, the published rate limits enforced), printed as a table of targets and written
// as JSON. It exits 0 even when a target is missed (the report says FAIL); non-zero only when the
// bench itself cannot run.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/auditwarden/auditwarden/shared/bench"
)

func main() {
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	var o bench.Options
	var only, sizes, out, logPath string
	fs.BoolVar(&o.Quick, "quick", false, "directories of 100 and 1,000 members only (the incremental run and the event path use 1,000)")
	fs.StringVar(&only, "only", "", "comma-separated cases to run: "+strings.Join(bench.Cases, ", "))
	fs.StringVar(&sizes, "sizes", "", "comma-separated directory sizes for the full reconciles (default 100,1000,10000)")
	fs.IntVar(&o.LatencyMs, "latency-ms", 30, "localcloud's latency per call")
	fs.IntVar(&o.Events, "events", 200, "members the event path times")
	fs.IntVar(&o.Changes, "changes", 10, "members that join before the incremental run")
	fs.IntVar(&o.BackfillAccounts, "backfill-accounts", 50, "accounts backfilled at once")
	fs.StringVar(&o.Config, "config", "s.yaml", "the s.yaml whose functions are measured")
	fs.StringVar(&out, "out", filepath.Join("target", "bench.json"), "where the JSON report is written")
	fs.StringVar(&logPath, "log", filepath.Join("target", "bench.log"), "where localcloud, fchost and the functions log (JSON)")
	_ = fs.Parse(os.Args[1:])

	if only != "" {
		o.Only = strings.Split(only, ",")
	}
	for _, s := range strings.Split(sizes, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: -sizes: %q is not a number\n", s)
			os.Exit(2)
		}
		o.Sizes = append(o.Sizes, n)
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	defer logFile.Close()
	o.Log = logFile

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := bench.Run(ctx, o)
	if rep != nil {
		if werr := rep.Write(os.Stdout, out); werr != nil {
			fmt.Fprintln(os.Stderr, "bench: writing the report:", werr)
		}
		fmt.Printf("JSON report: %s; logs: %s\n", out, logPath)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
