package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/auditwarden/auditwarden/shared/fchost"
)

// coldStartRuns is how many times each binary is started.
const coldStartRuns = 7

// coldStartCase starts each function binary with FC's environment and times the span from the
// process start to its first GET .../invocation/next on the runtime API: the moment fc.Start
// is ready for an invocation. It also reports the binary sizes (built as s.yaml deploys them).
func (s *suite) coldStartCase(ctx context.Context, cfg *fchost.Config) []*Result {
	ready := make(chan string, 16)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/invocation/next") {
			// The path is /<run id>/2020-11-11/runtime/invocation/next.
			id, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
			select {
			case ready <- id:
			default:
			}
			<-r.Context().Done() // never hand out an invocation: the process is killed next
			return
		}
		http.NotFound(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return []*Result{{Name: "coldstart", Error: err.Error()}}
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	var out []*Result
	for _, fn := range cfg.Functions {
		bin := s.binaries[fn.Name]
		r := &Result{Name: "coldstart/" + fn.Name, Summary: fmt.Sprintf("process start to handler ready (first runtime API poll), %d starts; binary built as s.yaml deploys it", coldStartRuns)}
		out = append(out, r)
		if st, err := os.Stat(bin); err == nil {
			r.metric("binaryMB", round2(float64(st.Size())/(1<<20)))
		}
		var samples []time.Duration
		for i := 0; i < coldStartRuns; i++ {
			d, err := startOnce(ctx, bin, fn, ln.Addr().String(), fmt.Sprintf("%s-%d", fn.Name, i), ready)
			if err != nil {
				r.Error = err.Error()
				break
			}
			samples = append(samples, d)
		}
		if r.Error != "" {
			continue
		}
		sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
		r.WallSeconds = Percentile(samples, 50).Seconds()
		r.metric("p50Ms", ms(Percentile(samples, 50)))
		r.metric("maxMs", ms(samples[len(samples)-1]))
		r.metric("minMs", ms(samples[0]))
	}
	return out
}

// startOnce runs the binary until it polls the runtime API, then kills it.
func startOnce(ctx context.Context, bin string, fn *fchost.Function, runtimeAddr, id string, ready <-chan string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, bin)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TZ=UTC"}
	for k, v := range fn.Env {
		env = append(env, k+"="+v)
	}
	env = append(env,
		"FC_RUNTIME_API="+runtimeAddr+"/"+id,
		"FC_FUNCTION_NAME="+fn.Name, "FC_FUNCTION_HANDLER="+fn.Handler, "FC_REGION="+fn.Region,
		fmt.Sprintf("FC_FUNCTION_MEMORY_SIZE=%d", fn.MemorySize), "FC_INSTANCE_ID="+id,
		"AUDITWARDEN_LOG_LEVEL=warn")
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	exited := make(chan error, 1)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()
	timeout := time.NewTimer(20 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case got := <-ready:
			if got != id {
				continue // a late poll from an earlier run
			}
			return time.Since(start), nil
		case err := <-exited:
			exited <- err
			return 0, fmt.Errorf("%s exited before polling the runtime API: %v: %s", fn.Name, err, firstLine(stderr.String()))
		case <-timeout.C:
			return 0, fmt.Errorf("%s did not poll the runtime API within 20 s", fn.Name)
		}
	}
}
