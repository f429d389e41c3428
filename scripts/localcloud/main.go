// Command localcloud runs the emulated Alibaba Cloud until interrupted. When ready it prints one JSON
// line on stdout naming every endpoint, the region and the management account's AccessKey pair.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/auditwarden/auditwarden/shared/localcloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/auditwarden/auditwarden/shared/logging"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "localcloud:", err)
		os.Exit(2)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("localcloud", flag.ContinueOnError)
	var opts localcloud.Options
	var faultsFile string
	fs.StringVar(&opts.Listen, "listen", "127.0.0.1:0", "gateway host:port (0 = a free port)")
	fs.StringVar(&opts.Region, "region", "cn-hangzhou", "region of the emulated cloud")
	fs.IntVar(&opts.Members, "members", 0, "members to seed in the resource directory")
	fs.IntVar(&opts.Folders, "folders", 0, "folders to seed (a tree)")
	fs.IntVar(&opts.Pending, "pending", 0, "of the members, how many are pending (CreateVerifying/PromoteVerifying)")
	fs.IntVar(&opts.Invited, "invited", 0, "of the members, how many joined by invitation")
	fs.BoolVar(&opts.DelegatedAdmin, "delegated-admin", false, "make one member the delegated administrator")
	fs.IntVar(&opts.HistoryDays, "history-days", 0, "days of ActionTrail history to seed per account (max 90 are visible)")
	fs.IntVar(&opts.HistoryPerDay, "history-per-day", 12, "events per account per day of seeded history")
	fs.Int64Var(&opts.Seed, "seed", 1, "random seed: the same seed gives the same directory and history")
	fs.IntVar(&opts.Faults.LatencyMs, "latency-ms", 0, "latency added to every call")
	fs.Float64Var(&opts.Faults.ErrorRate, "error-rate", 0, "share of calls answered with a 5xx (0..1)")
	fs.Float64Var(&opts.Faults.TimeoutRate, "timeout-rate", 0, "share of calls dropped without an answer (0..1)")
	fs.Float64Var(&opts.Faults.ThrottleRate, "throttle-rate", 0, "share of calls throttled (0..1)")
	fs.StringVar(&faultsFile, "faults", "", "JSON file with a full fault configuration (rate limits, scripts); overrides the fault flags")
	fs.Float64Var(&opts.LookupRatePerSecond, "lookup-rate", 0, "ActionTrail LookupEvents limit per account per second (0 = the real 2/s, negative = off)")
	fs.DurationVar(&opts.DeliveryInterval, "delivery-interval", time.Second, "how often trails deliver to SLS and OSS")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for name, v := range map[string]float64{"error-rate": opts.Faults.ErrorRate, "timeout-rate": opts.Faults.TimeoutRate, "throttle-rate": opts.Faults.ThrottleRate} {
		if v < 0 || v > 1 {
			return fmt.Errorf("-%s: must be between 0 and 1, got %v", name, v)
		}
	}
	if faultsFile != "" {
		raw, err := os.ReadFile(faultsFile)
		if err != nil {
			return fmt.Errorf("-faults: %w", err)
		}
		var cfg core.FaultConfig
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return fmt.Errorf("-faults %s: %w", faultsFile, err)
		}
		opts.Faults = cfg
	}
	log := logging.New(os.Stderr, "localcloud")
	start := time.Now()
	srv, err := localcloud.Start(opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	line, _ := json.Marshal(srv.Info())
	fmt.Println(string(line))
	log.Info().Int("members", opts.Members).Dur("startup", time.Since(start)).Str("addr", srv.Addr()).Msg("localcloud ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	log.Info().Msg("localcloud stopping")
	return nil
}
