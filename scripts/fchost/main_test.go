package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditwarden/auditwarden/shared/fchost"
	"github.com/auditwarden/auditwarden/shared/localcloud"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The command against a real localcloud: ready line, HTTP trigger with the token, InvokeFunction API, clean stop.
func TestRunServesUntilCancelled(t *testing.T) {
	srv, err := localcloud.Start(localcloud.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	line, _ := json.Marshal(srv.Info())
	lcFile := filepath.Join(t.TempDir(), "localcloud.json")
	if err := os.WriteFile(lcFile, append(line, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	logs := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-config", "../../shared/fchost/testdata/s.yaml", "-localcloud", "@" + lcFile, "-token", "tok"}, outW, logs)
		outW.Close()
	}()
	readyLine := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(outR).ReadString('\n')
		readyLine <- l
		_, _ = io.Copy(io.Discard, outR)
	}()
	var ready fchost.Ready
	select {
	case l := <-readyLine:
		if err := json.Unmarshal([]byte(l), &ready); err != nil {
			t.Fatalf("ready line %q: %v\n%s", l, err, logs.String())
		}
	case err := <-done:
		t.Fatalf("run ended early: %v\n%s", err, logs.String())
	case <-time.After(2 * time.Minute):
		t.Fatal("no ready line")
	}
	if ready.Token != "tok" || ready.HTTP["http"] == "" || !strings.HasPrefix(ready.Invoke, "http://127.0.0.1:") || len(ready.HTTP) != 1 {
		t.Fatalf("ready = %+v", ready)
	}

	post := func(url, token, body string) int {
		req, _ := http.NewRequest("POST", url, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(ready.HTTP["http"]+"/v1/enrol", "", "{}"); got != 401 {
		t.Errorf("POST without the token: %d", got)
	}
	if got := post(ready.HTTP["http"]+"/v1/enrol", "tok", "{}"); got != 201 {
		t.Errorf("POST with the token: %d", got)
	}
	resp, err := http.Post(ready.Invoke+"/2023-03-30/functions/echo/invocations", "application/json", strings.NewReader(`{"x":1}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The function got localcloud's line and STS credentials of its role.
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"AUDITWARDEN_LOCALCLOUD":`)) || !bytes.Contains(body, []byte(`"AccessKeyId":"STS.`)) {
		t.Errorf("invoke: %d %s", resp.StatusCode, body)
	}
	if subs := srv.World.Bus.Subscriptions(); len(subs) != 1 {
		t.Errorf("subscriptions = %+v", subs)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
	if subs := srv.World.Bus.Subscriptions(); len(subs) != 0 {
		t.Errorf("still subscribed: %+v", subs)
	}
	for _, want := range []string{"created the function role in localcloud", "fchost stopped"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

func TestRunRefusesBadInput(t *testing.T) {
	t.Setenv("AUDITWARDEN_LOCALCLOUD", "")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-config", "nope.yaml"}, "nope.yaml"},
		{[]string{"-http", "api"}, "want function=host:port"},
		{[]string{"-localcloud", "{not json"}, "-localcloud: not JSON"},
		{[]string{"-localcloud", "[1]"}, "must be localcloud's JSON startup line"},
		{[]string{"-localcloud", `{"region":"cn-hangzhou"}`}, "-localcloud: localcloud info: endpoints.rpc is empty"},
		{[]string{"-localcloud", "@/does/not/exist"}, "no such file"},
		{[]string{"stray"}, "unexpected arguments"},
	}
	for _, c := range cases {
		err := run(context.Background(), c.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
}
