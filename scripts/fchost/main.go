// Command fchost runs an s.yaml's Function Compute functions locally (see package shared/fchost):
// it builds them, runs each through the FC runtime API, serves their HTTP triggers, fires their
// timers, subscribes their eventbridge triggers to localcloud and runs async invocations.
//
//	go run ./scripts/fchost -config s.yaml -localcloud "$(cat localcloud.json)"
//
// With localcloud (-localcloud, a JSON line or @file, or AUDITWARDEN_LOCALCLOUD) functions get
// STS credentials of their role from localcloud (the role is created there if missing), the
// environment variable AUDITWARDEN_LOCALCLOUD, and EventBridge deliveries. When ready it prints
// one JSON line on stdout: {"http":{"<function>":"http://..."},"token":"...","invoke":"http://..."}.
// It runs until interrupted and stops the functions cleanly.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/fchost"
	"github.com/auditwarden/auditwarden/shared/logging"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fchost:", err)
		os.Exit(2)
	}
}

// httpFlags collects -http function=host:port.
type httpFlags map[string]string

func (h httpFlags) String() string { return fmt.Sprint(map[string]string(h)) }

func (h httpFlags) Set(v string) error {
	name, addr, ok := strings.Cut(v, "=")
	if !ok || name == "" || addr == "" {
		return fmt.Errorf("want function=host:port, got %q", v)
	}
	h[name] = addr
	return nil
}

// run serves until ctx ends. stdout gets only the ready line; logs go to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fchost", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "s.yaml", "the Serverless Devs s.yaml to run")
	lcFlag := fs.String("localcloud", "", "localcloud's startup line (JSON) or @file holding it; default $"+cloud.EnvLocalcloud)
	listen := fs.String("listen", "127.0.0.1:0", "address of the InvokeFunction API and EventBridge deliveries")
	token := fs.String("token", os.Getenv(fchost.EnvAPIToken), "Bearer token for authType function triggers; default $"+fchost.EnvAPIToken+", else random")
	account := fs.String("account", "", "account id for ${config('AccountID')}; default localcloud's management account")
	buildDir := fs.String("build-dir", "", "where to build the handlers; default a temporary directory")
	httpListen := httpFlags{}
	fs.Var(httpListen, "http", "function=host:port: where a function's HTTP trigger listens (repeatable); default the -listen host, a free port")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	log := logging.New(stderr, "fchost")

	raw, err := localcloudLine(*lcFlag)
	if err != nil {
		return err
	}
	opts := fchost.Options{Listen: *listen, HTTPListen: httpListen, AuthToken: *token, BuildDir: *buildDir, Log: stderr}
	if raw != nil {
		info, err := cloud.ParseLocalcloudInfo(raw)
		if err != nil {
			return fmt.Errorf("-localcloud: %w", err)
		}
		creds, err := fchost.NewLocalcloudCredentials(info, log)
		if err != nil {
			return fmt.Errorf("-localcloud: %w", err)
		}
		opts.Credentials = creds.Get
		opts.AccountID = info.ManagementAccountID
		opts.EventBridge = info.Endpoints.Control
		opts.Env = map[string]string{cloud.EnvLocalcloud: string(raw)}
		if *account == "" {
			*account = info.ManagementAccountID
		}
	} else {
		log.Warn().Msg("no localcloud: functions get no credentials and eventbridge triggers are not subscribed")
	}
	if *account != "" && opts.AccountID == "" {
		opts.AccountID = *account
	}

	cfg, err := fchost.LoadConfigWith(*config, fchost.ParseOptions{AccountID: *account})
	if err != nil {
		return err
	}
	h, err := fchost.Start(ctx, cfg, opts)
	if err != nil {
		return err
	}
	defer h.Close()
	line, err := json.Marshal(h.Ready())
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(stdout, string(line)); err != nil {
		return err
	}
	<-ctx.Done()
	log.Info().Msg("fchost stopping")
	return nil
}

// localcloudLine reads -localcloud (a JSON line or @file) or AUDITWARDEN_LOCALCLOUD, compacted to
// one line (functions receive it as AUDITWARDEN_LOCALCLOUD). Nil when neither is set.
func localcloudLine(flagValue string) ([]byte, error) {
	v := strings.TrimSpace(flagValue)
	source := "-localcloud"
	if v == "" {
		v, source = strings.TrimSpace(os.Getenv(cloud.EnvLocalcloud)), cloud.EnvLocalcloud
	}
	if v == "" {
		return nil, nil
	}
	if name, ok := strings.CutPrefix(v, "@"); ok {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		v = strings.TrimSpace(string(data))
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(v)); err != nil {
		return nil, fmt.Errorf("%s: not JSON: %w", source, err)
	}
	if buf.Len() == 0 || buf.Bytes()[0] != '{' {
		return nil, errors.New(source + ": must be localcloud's JSON startup line")
	}
	return buf.Bytes(), nil
}
