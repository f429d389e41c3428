// Package localcloud assembles the emulated Alibaba Cloud: one gateway port serving Resource
// Manager, ActionTrail, STS, RAM and Log Audit (RPC), SLS and OSS, plus a control API for stats,
// faults and EventBridge subscriptions. Tests start it in-process on a random loopback port;
// scripts/localcloud runs it as a command.
package localcloud

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/auditwarden/auditwarden/shared/cloud"
	"github.com/auditwarden/auditwarden/shared/localcloud/actiontrail"
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
	"github.com/auditwarden/auditwarden/shared/localcloud/identity"
	"github.com/auditwarden/auditwarden/shared/localcloud/logaudit"
	"github.com/auditwarden/auditwarden/shared/localcloud/oss"
	"github.com/auditwarden/auditwarden/shared/localcloud/resourcemanager"
	"github.com/auditwarden/auditwarden/shared/localcloud/sls"
)

// Options configure a localcloud instance. The zero value is an empty directory on 127.0.0.1:0.
type Options struct {
	Listen         string // host:port of the gateway; default 127.0.0.1:0
	Region         string // default cn-hangzhou
	Members        int    // seeded members (created resource accounts, some invited)
	Folders        int    // seeded folders (a tree)
	Pending        int    // of the members, how many are in CreateVerifying / PromoteVerifying
	Invited        int    // of the members, how many joined by invitation (CloudAccount)
	DelegatedAdmin bool   // make one member the delegated administrator of ActionTrail and Log Audit
	HistoryDays    int    // days of synthetic ActionTrail history per account
	HistoryPerDay  int    // events per account per day of history (default 12)
	Seed           int64  // makes the directory and history reproducible
	Faults         core.FaultConfig
	Clock          core.Clock // nil = wall clock
	// LookupRatePerSecond is ActionTrail's own LookupEvents limit per account (0 = the real 2/s, negative = off).
	LookupRatePerSecond float64
	// DeliveryInterval is how often trails flush records to SLS and OSS (default 1s).
	DeliveryInterval time.Duration
	// NoTLS skips the OSS TLS listener (secure-transport policies then refuse everything but the owner).
	NoTLS bool
}

// Server is a running localcloud.
type Server struct {
	World       *core.World
	RPC         *core.RPCServer
	SLS         *sls.Server
	OSS         *oss.Server
	ActionTrail *actiontrail.Service
	// ManagementKey is the management account's root AccessKey pair.
	ManagementKey *core.AccessKey
	Seeded        resourcemanager.SeedResult

	info      Info
	listener  net.Listener
	http      *http.Server
	tlsServer *http.Server
	closeOnce sync.Once
}

// Info is the single JSON line scripts/localcloud prints when ready: everything a client needs.
type Info struct {
	Region              string    `json:"region"`
	ManagementAccountID string    `json:"managementAccountId"`
	AccessKeyID         string    `json:"accessKeyId"`
	AccessKeySecret     string    `json:"accessKeySecret"`
	Endpoints           Endpoints `json:"endpoints"`
}

// Endpoints name where each product listens. RPC products share one host:port and dispatch on Version.
type Endpoints struct {
	RPC             string `json:"rpc"`             // host:port for ResourceManager, ActionTrail, STS, RAM (client.Domain)
	ResourceManager string `json:"resourcemanager"` // same as rpc, named for clarity
	ActionTrail     string `json:"actiontrail"`
	STS             string `json:"sts"`
	RAM             string `json:"ram"`
	LogAudit        string `json:"logaudit"` // host:port/open-api (client.Domain for the Sls 2019-10-23 API)
	SLS             string `json:"sls"`      // host:port to dial; keep the SDK endpoint "<region>.log.aliyuncs.com"
	SLSEndpoint     string `json:"slsEndpoint"`
	OSS             string `json:"oss"`    // http://host:port (path style)
	OSSTLS          string `json:"ossTls"` // https://host:port, self-signed, for secure-transport checks
	Control         string `json:"control"`
}

// Start builds, seeds and serves a localcloud until Close.
func Start(opts Options) (*Server, error) {
	if opts.Region == "" {
		opts.Region = "cn-hangzhou"
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.HistoryPerDay == 0 {
		opts.HistoryPerDay = 12
	}
	if opts.Pending > opts.Members || opts.Invited > opts.Members {
		return nil, fmt.Errorf("pending (%d) and invited (%d) must not exceed members (%d)", opts.Pending, opts.Invited, opts.Members)
	}
	w := core.NewWorld(opts.Region, opts.Clock)
	s := &Server{World: w}
	seed := opts.Seed
	if seed == 0 {
		seed = 1
	}
	rnd := rand.New(rand.NewSource(seed))

	w.Mu.Lock()
	w.EnableDirectoryLocked(deterministicAccountID(rnd), "management")
	s.ManagementKey = w.NewAccessKeyLocked(w.ManagementAccountID, "")
	w.Mu.Unlock()

	s.SLS = sls.New(w)
	s.OSS = oss.New(w)
	w.SLS = s.SLS
	w.OSS = s.OSS
	s.ActionTrail = actiontrail.New(w, actiontrail.Options{
		LookupRatePerSecond: opts.LookupRatePerSecond,
		FlushInterval:       opts.DeliveryInterval,
	})
	w.Recorder.OnRecord(w.Bus.PublishRecord)

	s.RPC = core.NewRPCServer(w)
	s.RPC.Register(identity.STS())
	s.RPC.Register(identity.RAM())
	s.RPC.Register(resourcemanager.Service())
	s.RPC.Register(s.ActionTrail.RPC())
	s.RPC.Register(logaudit.Service(logaudit.Options{}))

	res, err := resourcemanager.Seed(w, resourcemanager.SeedOptions{
		Members: opts.Members, Folders: opts.Folders, Pending: opts.Pending, Invited: opts.Invited,
		DelegatedAdmin: opts.DelegatedAdmin, Rand: rnd,
	})
	if err != nil {
		return nil, fmt.Errorf("seed directory: %w", err)
	}
	s.Seeded = res
	if opts.HistoryDays > 0 {
		w.Mu.RLock()
		accounts := make([]string, 0, len(w.Accounts))
		for _, a := range w.DirectoryAccountsLocked() {
			accounts = append(accounts, a.AccountID)
		}
		w.Mu.RUnlock()
		actiontrail.SeedHistory(w, accounts, opts.HistoryDays, opts.HistoryPerDay, rnd)
	}
	w.Faults.Set(opts.Faults)

	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", opts.Listen, err)
	}
	s.listener = ln
	addr := ln.Addr().String()
	s.info = Info{
		Region: opts.Region, ManagementAccountID: w.ManagementAccountID,
		AccessKeyID: s.ManagementKey.ID, AccessKeySecret: s.ManagementKey.Secret,
		Endpoints: Endpoints{
			RPC: addr, ResourceManager: addr, ActionTrail: addr, STS: addr, RAM: addr,
			LogAudit: addr + "/open-api", SLS: addr, SLSEndpoint: opts.Region + ".log.aliyuncs.com",
			OSS: "http://" + addr, Control: "http://" + addr + controlPrefix,
		},
	}
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.http.Serve(ln)
	if !opts.NoTLS {
		if err := s.startTLS(ln.Addr().(*net.TCPAddr).IP.String()); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

func (s *Server) startTLS(host string) error {
	cert, err := selfSignedCert(host)
	if err != nil {
		return fmt.Errorf("tls certificate: %w", err)
	}
	ln, err := tls.Listen("tcp", net.JoinHostPort(host, "0"), &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		return fmt.Errorf("tls listen: %w", err)
	}
	s.tlsServer = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.info.Endpoints.OSSTLS = "https://" + ln.Addr().String()
	go s.tlsServer.Serve(ln)
	return nil
}

// Info describes the running instance.
func (s *Server) Info() Info { return s.info }

// Addr is the gateway's host:port.
func (s *Server) Addr() string { return s.info.Endpoints.RPC }

// Close stops serving and background work.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		// A short grace: clients of an emulator keep connections alive, and tests stop it often.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if s.http != nil {
			if err = s.http.Shutdown(ctx); err != nil {
				s.http.Close()
			}
		}
		if s.tlsServer != nil {
			if s.tlsServer.Shutdown(ctx) != nil {
				s.tlsServer.Close()
			}
		}
		if s.ActionTrail != nil {
			s.ActionTrail.Close()
		}
		s.World.Bus.Close()
	})
	if errors.Is(err, context.DeadlineExceeded) {
		return nil // connections held open by clients are cut; that is a clean stop for an emulator
	}
	return err
}

// ServeHTTP dispatches one gateway request to the product it is addressed to.
func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, controlPrefix):
		s.serveControl(rw, r)
	case isRPC(r):
		s.RPC.ServeHTTP(rw, r)
	case isSLS(r):
		s.SLS.ServeHTTP(rw, r)
	default:
		s.OSS.ServeHTTP(rw, r)
	}
}

// isRPC: the alibaba-cloud-sdk-go sends Action in the query and x-acs-action as a header.
func isRPC(r *http.Request) bool {
	if r.Header.Get("x-acs-action") != "" {
		return true
	}
	q := r.URL.Query()
	return q.Get("Action") != "" && q.Get("Version") != ""
}

// isSLS: the log SDK always sends x-log-apiversion and signs with LOG or SLS4-HMAC-SHA256.
func isSLS(r *http.Request) bool {
	if r.Header.Get("x-log-apiversion") != "" {
		return true
	}
	auth := r.Header.Get("Authorization")
	if strings.HasPrefix(auth, "LOG ") || strings.HasPrefix(auth, "SLS4-") {
		return true
	}
	host, _, _ := strings.Cut(r.Host, ":")
	return strings.HasSuffix(host, ".log.aliyuncs.com")
}

// deterministicAccountID keeps the management account stable for a given seed.
func deterministicAccountID(rnd *rand.Rand) string {
	b := make([]byte, 16)
	b[0] = '1'
	for i := 1; i < 16; i++ {
		b[i] = byte('0' + rnd.Intn(10))
	}
	return string(b)
}

// CloudInfo is Info as the product's cloud package reads it (the AUDITWARDEN_LOCALCLOUD shape),
// so tests and tools build sessions from it without re-encoding the startup line.
func (s *Server) CloudInfo() cloud.LocalcloudInfo {
	i := s.info
	return cloud.LocalcloudInfo{
		Region: i.Region, ManagementAccountID: i.ManagementAccountID, AccessKeyID: i.AccessKeyID, AccessKeySecret: i.AccessKeySecret,
		Endpoints: cloud.LocalcloudEndpoints{RPC: i.Endpoints.RPC, LogAudit: i.Endpoints.LogAudit, SLS: i.Endpoints.SLS,
			OSS: i.Endpoints.OSS, OSSTLS: i.Endpoints.OSSTLS, Control: i.Endpoints.Control},
	}
}
