package fchost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// Build compiles every function's handler for this machine into outDir/<function>/<handler>, in
// parallel, and returns the binaries by function name. The package comes from packages (relative
// to the s.yaml directory) or else from the function's pre-deploy `go build` action, run in the
// action's path without its GOOS/GOARCH (those cross-compile for FC).
func Build(ctx context.Context, cfg *Config, outDir string, packages map[string]string) (map[string]string, error) {
	outDir, err := filepath.Abs(outDir)
	if err != nil {
		return nil, fmt.Errorf("fchost: build directory: %w", err)
	}
	type job struct {
		fn   *Function
		spec *BuildSpec
		out  string
	}
	var jobs []job
	for _, fn := range cfg.Functions {
		spec := fn.Build
		if pkg := packages[fn.Name]; pkg != "" {
			spec = &BuildSpec{Dir: cfg.Dir, Targets: []string{pkg}}
		}
		if spec == nil {
			return nil, fmt.Errorf("fchost: resources.%s: nothing to build: add a pre-deploy action `go build -o %s ./<package>` or give the package explicitly",
				fn.Resource, filepath.ToSlash(filepath.Join(fn.Code, fn.Handler)))
		}
		jobs = append(jobs, job{fn, spec, filepath.Join(outDir, fn.Name, fn.Handler)})
	}
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := append([]string{"build"}, j.spec.Flags...)
			args = append(append(args, "-o", j.out), j.spec.Targets...)
			cmd := exec.CommandContext(ctx, "go", args...)
			cmd.Dir = j.spec.Dir
			cmd.Env = buildEnv()
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				errs[i] = fmt.Errorf("fchost: building %s (go %s in %s): %v\n%s", j.fn.Name, strings.Join(args, " "), j.spec.Dir, err, tail(out.Bytes(), 4096))
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	built := make(map[string]string, len(jobs))
	for _, j := range jobs {
		built[j.fn.Name] = j.out
	}
	return built, nil
}

// buildEnv is the host's environment without a cross-compilation target.
func buildEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GOOS", "GOARCH", "GOARM", "GOAMD64", "GOARM64":
			continue
		}
		env = append(env, kv)
	}
	return env
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
