package localcloud

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

// relistenTimeout bounds how long Restart waits for its old ports to become free again.
const relistenTimeout = 5 * time.Second

// Restart is the emulator's process restarting under its clients: it stops accepting, drops every
// open connection (idle keep-alives and requests in flight alike: a request in flight may have
// changed state but its answer is lost, as when a real endpoint restarts mid-call), waits pause,
// then listens again on the same gateway and OSS TLS addresses. All state (the world, stats,
// faults, subscriptions, background delivery) is kept, so Info stays valid.
//
// The TLS listener gets a new self-signed certificate: clients of localcloud skip verification.
// Restart must not run concurrently with another Restart or with Close, and not after Close.
func (s *Server) Restart(pause time.Duration) error {
	if s.http == nil || s.listener == nil {
		return errors.New("localcloud: restart: the server is not running")
	}
	addr := s.listener.Addr().String()
	var tlsAddr string
	if s.tlsServer != nil {
		u, err := url.Parse(s.info.Endpoints.OSSTLS)
		if err != nil || u.Host == "" {
			return fmt.Errorf("localcloud: restart: OSS TLS endpoint %q: %v", s.info.Endpoints.OSSTLS, err)
		}
		tlsAddr = u.Host
	}

	// Close, not Shutdown: a crash does not wait for requests to finish.
	_ = s.http.Close()
	if s.tlsServer != nil {
		_ = s.tlsServer.Close()
	}
	if pause > 0 {
		time.Sleep(pause)
	}

	ln, err := relisten(addr)
	if err != nil {
		return fmt.Errorf("localcloud: restart: %w", err)
	}
	s.listener = ln
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.http.Serve(ln)

	if tlsAddr != "" {
		host, _, _ := net.SplitHostPort(tlsAddr)
		cert, err := selfSignedCert(host)
		if err != nil {
			return fmt.Errorf("localcloud: restart: tls certificate: %w", err)
		}
		tln, err := relisten(tlsAddr)
		if err != nil {
			return fmt.Errorf("localcloud: restart: %w", err)
		}
		s.tlsServer = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
		go s.tlsServer.Serve(tls.NewListener(tln, &tls.Config{Certificates: []tls.Certificate{cert}}))
	}
	return nil
}

// relisten binds addr again, retrying briefly while the old socket is still being released.
func relisten(addr string) (net.Listener, error) {
	deadline := time.Now().Add(relistenTimeout)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			return ln, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("listen %s again: %w", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
