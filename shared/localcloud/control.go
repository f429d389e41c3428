package localcloud

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// controlPrefix is where the emulator's own API lives; no real product uses this path.
const controlPrefix = "/__localcloud"

// The control API (JSON, unauthenticated: localcloud listens on loopback for tests and demos):
//
//	GET  /__localcloud/info                      the startup Info
//	GET  /__localcloud/stats                     call counts per product, action and account
//	POST /__localcloud/stats/reset
//	GET  /__localcloud/faults                    the fault configuration; PUT replaces it
//	POST /__localcloud/faults/scripts            append one FaultRule ("fail the next 3 CreateTrail with X")
//	GET  /__localcloud/eventbridge/subscriptions list; POST {account?, url, pattern} subscribes
//	DELETE /__localcloud/eventbridge/subscriptions/{id}
//	POST /__localcloud/innertrail                {account, project, name} enables Inner-ActionTrail; DELETE disables
//	POST /__localcloud/clock/advance             {seconds} when started with a manual clock
func (s *Server) serveControl(rw http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, controlPrefix)
	switch {
	case path == "/info" && r.Method == http.MethodGet:
		writeJSON(rw, 200, s.info)
	case path == "/health":
		writeJSON(rw, 200, map[string]bool{"ok": true})
	case path == "/stats" && r.Method == http.MethodGet:
		writeJSON(rw, 200, map[string]any{"rows": s.World.Stats.Snapshot(), "writeCalls": s.World.Stats.WriteCalls()})
	case path == "/stats/reset" && r.Method == http.MethodPost:
		s.World.Stats.Reset()
		writeJSON(rw, 200, map[string]bool{"ok": true})
	case path == "/faults" && r.Method == http.MethodGet:
		writeJSON(rw, 200, s.World.Faults.Config())
	case path == "/faults" && r.Method == http.MethodPut:
		var cfg core.FaultConfig
		if !readJSON(rw, r, &cfg) {
			return
		}
		if cfg.ErrorRate < 0 || cfg.ErrorRate > 1 || cfg.TimeoutRate < 0 || cfg.TimeoutRate > 1 || cfg.ThrottleRate < 0 || cfg.ThrottleRate > 1 {
			writeJSON(rw, 400, controlError("errorRate, timeoutRate and throttleRate must be between 0 and 1"))
			return
		}
		s.World.Faults.Set(cfg)
		writeJSON(rw, 200, s.World.Faults.Config())
	case path == "/faults/scripts" && r.Method == http.MethodPost:
		var rule core.FaultRule
		if !readJSON(rw, r, &rule) {
			return
		}
		if rule.Count == 0 {
			writeJSON(rw, 400, controlError("count: must be non-zero (negative means every call)"))
			return
		}
		if !rule.Timeout && rule.Code == "" {
			writeJSON(rw, 400, controlError("code: required unless timeout is true"))
			return
		}
		s.World.Faults.Script(rule)
		writeJSON(rw, 200, rule)
	case path == "/eventbridge/subscriptions" && r.Method == http.MethodGet:
		writeJSON(rw, 200, map[string]any{"subscriptions": s.World.Bus.Subscriptions()})
	case path == "/eventbridge/subscriptions" && r.Method == http.MethodPost:
		var req struct {
			Account string          `json:"account"`
			URL     string          `json:"url"`
			Pattern json.RawMessage `json:"pattern"`
		}
		if !readJSON(rw, r, &req) {
			return
		}
		if !strings.HasPrefix(req.URL, "http://") && !strings.HasPrefix(req.URL, "https://") {
			writeJSON(rw, 400, controlError("url: must be an http(s) URL"))
			return
		}
		sub, err := s.World.Bus.Subscribe(req.Account, req.Pattern, req.URL, nil)
		if err != nil {
			writeJSON(rw, 400, controlError(err.Error()))
			return
		}
		writeJSON(rw, 200, sub)
	case strings.HasPrefix(path, "/eventbridge/subscriptions/") && r.Method == http.MethodDelete:
		if !s.World.Bus.Unsubscribe(strings.TrimPrefix(path, "/eventbridge/subscriptions/")) {
			writeJSON(rw, 404, controlError("subscription not found"))
			return
		}
		writeJSON(rw, 200, map[string]bool{"ok": true})
	case path == "/innertrail" && (r.Method == http.MethodPost || r.Method == http.MethodDelete):
		var req struct{ Account, Project, Name string }
		if !readJSON(rw, r, &req) {
			return
		}
		var err error
		if r.Method == http.MethodPost {
			err = s.ActionTrail.EnableInnerTrail(req.Account, req.Project, req.Name)
		} else {
			err = s.ActionTrail.DisableInnerTrail(req.Account)
		}
		if err != nil {
			writeJSON(rw, 400, controlError(err.Error()))
			return
		}
		writeJSON(rw, 200, map[string]bool{"ok": true})
	case path == "/clock/advance" && r.Method == http.MethodPost:
		clock, ok := s.World.Clock.(*core.ManualClock)
		if !ok {
			writeJSON(rw, 409, controlError("clock: localcloud runs on the wall clock"))
			return
		}
		var req struct{ Seconds float64 }
		if !readJSON(rw, r, &req) {
			return
		}
		if req.Seconds <= 0 {
			writeJSON(rw, 400, controlError("seconds: must be positive"))
			return
		}
		clock.Advance(time.Duration(req.Seconds * float64(time.Second)))
		writeJSON(rw, 200, map[string]string{"now": clock.Now().Format(time.RFC3339)})
	default:
		writeJSON(rw, 404, controlError("no such control route: "+r.Method+" "+path))
	}
}

func controlError(msg string) map[string]string { return map[string]string{"error": msg} }

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}

func readJSON(rw http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		err = dec.Decode(v)
	}
	if err != nil {
		writeJSON(rw, 400, controlError(fmt.Sprintf("body: %v", err)))
		return false
	}
	return true
}

// selfSignedCert makes a throwaway certificate for the OSS TLS listener.
func selfSignedCert(host string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "localcloud"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * 365 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
