// Command demo runs the whole bundle on localcloud as a user would: it starts localcloud with a
// seeded directory and fchost with the functions of s.yaml, applies a policy through the API, adds
// a member through the Resource Manager API and watches the event path collect it, stops the trail
// and watches the timer heal it, starts backfill and shows it progressing, then prints the coverage
// table. It exits non-zero unless the organization ends compliant.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	fs := flag.NewFlagSet("demo", flag.ExitOnError)
	opts := options{}
	fs.IntVar(&opts.members, "members", 24, "members to seed")
	fs.BoolVar(&opts.serve, "serve", false, "keep localcloud, the functions and the status page running after the demo (Ctrl-C to stop)")
	fs.StringVar(&opts.logPath, "log", "target/demo.log", "where localcloud, fchost and the functions log (JSON)")
	fs.StringVar(&opts.config, "config", "s.yaml", "the s.yaml to run")
	fs.Parse(os.Args[1:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	started := time.Now()
	err := run(ctx, opts, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo FAILED after %s: %v\n(logs: %s)\n", time.Since(started).Round(time.Millisecond), err, opts.logPath)
		os.Exit(1)
	}
	fmt.Printf("\ndemo passed in %s (logs: %s)\n", time.Since(started).Round(time.Millisecond), opts.logPath)
}
