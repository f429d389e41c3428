package fchost

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const testAccount = "1234567890123456"

func TestLoadConfigReadsTheTestBundle(t *testing.T) {
	cfg, err := LoadConfigWith("testdata/s.yaml", ParseOptions{AccountID: testAccount})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Edition != "3.0.0" || cfg.Name != "fchost-test" || cfg.Access != "default" || len(cfg.Functions) != 5 {
		t.Fatalf("config = %+v", cfg)
	}
	names := []string{}
	for _, f := range cfg.Functions {
		names = append(names, f.Name)
	}
	if want := []string{"echo", "panic", "sleep", "flaky", "http"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("functions %v, want file order %v", names, want)
	}
	echo := cfg.Functions[0]
	abs, _ := filepath.Abs("testdata")
	checks := []struct {
		name      string
		got, want any
	}{
		{"region from vars", echo.Region, "cn-hangzhou"},
		{"role with config('AccountID')", echo.Role, "acs:ram::" + testAccount + ":role/fchost-test"},
		{"memory", echo.MemorySize, 256},
		{"timeout", echo.Timeout, 10 * time.Second},
		{"env interpolation", echo.Env, map[string]string{"GREETING": "hello world", "HOME_REGION": "cn-hangzhou"}},
		{"async defaults", echo.Async, AsyncConfig{MaxRetryAttempts: 3, MaxEventAge: 86400 * time.Second}},
		{"initializer", *echo.Initializer, LifecycleHook{Handler: "true", Timeout: 5 * time.Second}},
		{"preStop", *echo.PreStop, LifecycleHook{Handler: "true", Timeout: 3 * time.Second}},
		{"build dir", echo.Build.Dir, abs},
		{"build targets", echo.Build.Targets, []string{"./functions/echo"}},
		{"build flags (GOOS dropped)", len(echo.Build.Flags), 0},
		{"flaky async", cfg.Functions[3].Async, AsyncConfig{MaxRetryAttempts: 2, MaxEventAge: 60 * time.Second}},
		{"sleep timeout", cfg.Functions[2].Timeout, time.Second},
		{"no role", cfg.Functions[1].Role, ""},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if len(echo.Triggers) != 3 {
		t.Fatalf("echo triggers = %d", len(echo.Triggers))
	}
	tick, never, rd := echo.Triggers[0], echo.Triggers[1], echo.Triggers[2]
	if tick.Timer == nil || tick.Timer.CronExpression != "0 0 4 * * *" || !tick.Timer.Enable || tick.Timer.Payload != `{"mode":"full"}` || tick.Qualifier != "LATEST" {
		t.Errorf("tick = %+v %+v", tick, tick.Timer)
	}
	if never.Timer == nil || never.Timer.Enable {
		t.Errorf("never = %+v", never.Timer)
	}
	if rd.EventBridge == nil || !rd.EventBridge.Enable || rd.EventBridge.Async || rd.EventBridge.EventSourceType != "Default" ||
		string(rd.EventBridge.Pattern) != `{"data":{"eventName":["CreateResourceAccount"]},"source":["acs.actiontrail"]}` {
		t.Errorf("rd-events = %+v", rd.EventBridge)
	}
	api := cfg.Functions[4].Triggers[0]
	if api.HTTP == nil || api.HTTP.AuthType != "function" || !reflect.DeepEqual(api.HTTP.Methods, []string{"GET", "POST", "PUT"}) {
		t.Errorf("api = %+v", api.HTTP)
	}
}

// base is a valid single-function s.yaml that the error cases below break one field at a time.
const base = `edition: 3.0.0
name: t
vars:
  region: cn-hangzhou
  mem: 512
resources:
  fn:
    component: fc3
    actions:
      pre-deploy:
        - run: go build -o target/fn/main ./functions/fn
          path: ./
    props:
      region: ${vars.region}
      functionName: fn
      runtime: go1
      code: ./target/fn
      handler: main
      memorySize: MEMORY
      timeout: TIMEOUT
      ROLE
      triggers: TRIGGERS
`

func doc(repl ...string) string {
	s := base
	defaults := map[string]string{"MEMORY": "${vars.mem}", "TIMEOUT": "60", "ROLE": "", "TRIGGERS": "[]"}
	for i := 0; i+1 < len(repl); i += 2 {
		defaults[repl[i]] = repl[i+1]
	}
	for k, v := range defaults {
		s = strings.ReplaceAll(s, k, v)
	}
	return s
}

func TestParseConfigRefusesWhatFC3Refuses(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"not yaml", "edition: [", "s.yaml: yaml:"},
		{"not a mapping", "- 1", "the document must be a mapping"},
		{"edition", strings.Replace(doc(), "3.0.0", "2.0.0", 1), "edition (line 1): must be 3.0.0"},
		{"no name", strings.Replace(doc(), "name: t", "name: ''", 1), "name (line 2): required"},
		{"no resources", "edition: 3.0.0\nname: x\n", "resources: required"},
		{"no fc3", "edition: 3.0.0\nname: x\nresources:\n  d:\n    component: fc3-domain\n", "resources (line 4): has no fc3 resource"},
		{"memory not multiple", doc("MEMORY", "200"), "resources.fn.props.memorySize: 200 MB is invalid: 128..32768 and a multiple of 64"},
		{"memory too big", doc("MEMORY", "65536"), "memorySize: 65536 MB is invalid"},
		{"memory not a number", doc("MEMORY", "lots"), `resources.fn.props.memorySize (line 19): must be an integer, got "lots"`},
		{"timeout zero", doc("TIMEOUT", "0"), "resources.fn.props.timeout: 0 s is invalid: 1..86400 seconds"},
		{"timeout too long", doc("TIMEOUT", "86401"), "timeout: 86401 s is invalid"},
		{"role", doc("ROLE", "role: arn:aws:iam::1:role/x"), `resources.fn.props.role (line 21): "arn:aws:iam::1:role/x" is invalid: a role ARN`},
		{"unknown var", doc("MEMORY", "${vars.nope}"), `resources.fn.props.memorySize (line 19): ${vars.nope}: vars has no "nope"`},
		{"unknown expression", doc("ROLE", "role: ${this.props.x}"), "fchost resolves only"},
		{"config without account", doc("ROLE", "role: acs:ram::${config('AccountID')}:role/x"), "no account id given"},
		{"unset env", doc("ROLE", "role: ${env('FCHOST_TEST_UNSET_VAR')}"), "environment variable FCHOST_TEST_UNSET_VAR is not set"},
		{"runtime", strings.Replace(doc(), "runtime: go1", "runtime: nodejs18", 1), `resources.fn.props.runtime (line 16): "nodejs18" is invalid: go1`},
		{"handler path", strings.Replace(doc(), "handler: main", "handler: bin/main", 1), `props.handler (line 18): "bin/main" is invalid`},
		{"function name", strings.Replace(doc(), "functionName: fn", "functionName: 9fn", 1), `props.functionName (line 15): "9fn" is invalid`},
		{"reserved name", strings.Replace(doc(), "functionName: fn", "functionName: __fchost", 1), "reserved by fchost"},
		{"no code", strings.Replace(doc(), "      code: ./target/fn\n", "", 1), "resources.fn.props.code: required"},
		{"cron fields", doc("TRIGGERS", "[{triggerName: t, triggerType: timer, triggerConfig: {cronExpression: '0 */5 * * *'}}]"),
			`props.triggers[t].triggerConfig.cronExpression (line 22): "0 */5 * * *" has 5 fields: FC needs six`},
		{"cron value", doc("TRIGGERS", "[{triggerName: t, triggerType: timer, triggerConfig: {cronExpression: '0 61 * * * *'}}]"),
			"cronExpression (line 22): \"0 61 * * * *\": "},
		{"timer enable", doc("TRIGGERS", "[{triggerName: t, triggerType: timer, triggerConfig: {cronExpression: '@every 1m', enable: maybe}}]"),
			`triggers[t].triggerConfig.enable (line 22): must be true or false, got "maybe"`},
		{"auth type", doc("TRIGGERS", "[{triggerName: h, triggerType: http, triggerConfig: {authType: basic, methods: [GET]}}]"),
			`triggers[h].triggerConfig.authType (line 22): "basic" is invalid: anonymous, function or jwt`},
		{"methods missing", doc("TRIGGERS", "[{triggerName: h, triggerType: http, triggerConfig: {authType: anonymous}}]"), "triggerConfig.methods: required"},
		{"method case", doc("TRIGGERS", "[{triggerName: h, triggerType: http, triggerConfig: {authType: anonymous, methods: [get]}}]"),
			`triggerConfig.methods[0] (line 22): "get" is invalid`},
		{"two http triggers", doc("TRIGGERS", "[{triggerName: a, triggerType: http, triggerConfig: {authType: anonymous, methods: [GET]}}, {triggerName: b, triggerType: http, triggerConfig: {authType: anonymous, methods: [GET]}}]"),
			"at most one http trigger"},
		{"duplicate trigger", doc("TRIGGERS", "[{triggerName: a, triggerType: timer, triggerConfig: {cronExpression: '@every 1m'}}, {triggerName: a, triggerType: timer, triggerConfig: {cronExpression: '@every 1m'}}]"),
			`"a" is used twice`},
		{"trigger type", doc("TRIGGERS", "[{triggerName: a, triggerType: cron}]"), `triggers[a].triggerType (line 22): "cron" is invalid`},
		{"pattern not json", doc("TRIGGERS", "[{triggerName: e, triggerType: eventbridge, triggerConfig: {eventRuleFilterPattern: '{source'}}]"),
			"triggers[e].triggerConfig.eventRuleFilterPattern (line 22): must be a JSON object"},
		{"pattern missing", doc("TRIGGERS", "[{triggerName: e, triggerType: eventbridge, triggerConfig: {triggerEnable: true}}]"), "eventRuleFilterPattern: required"},
		{"retries", doc("ROLE", "asyncInvokeConfig: {maxAsyncRetryAttempts: 9}"), "asyncInvokeConfig.maxAsyncRetryAttempts: 9 is invalid: 0..8"},
		{"env name", doc("ROLE", "environmentVariables: {1BAD: x}"), "environmentVariables.1BAD (line 21): is not a valid variable name"},
		{"duplicate function", doc() + "  fn2:\n    component: fc3\n    props: {region: cn-hangzhou, functionName: fn, runtime: go1, code: ., handler: main}\n",
			`resources.fn2.props.functionName: "fn" is also the functionName of resources.fn`},
		{"build flag", strings.Replace(doc(), "go build -o", "go build -frobnicate -o", 1), "actions.pre-deploy[0].run (line 11): go build flag -frobnicate"},
		{"vars refer to vars", strings.Replace(doc(), "mem: 512", "mem: ${vars.region}", 1), "vars.mem (line 5): ${vars.region}: vars cannot refer to other vars"},
	}
	cases = append(cases,
		struct{ name, yaml, want string }{"alias bomb", bomb("vars", "[*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]", "      region: ${vars.l9}\n"),
			"resources.fn.props.region (line 18): ${vars.l9}: the value nests or expands too much"},
		struct{ name, yaml, want string }{"merge bomb", bomb("anchors", "{<<: [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]}", "      <<: *l9\n"),
			"resources.fn.props: merge keys and aliases nest too deep, loop or expand too much"},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			defer func() {
				if d := time.Since(start); d > time.Second {
					t.Errorf("took %s", d)
				}
			}()
			_, err := ParseConfig([]byte(c.yaml), ParseOptions{Dir: t.TempDir()})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

// bomb is a "billion laughs" document: ten levels of ten aliases each, used by the props.
func bomb(section, level, use string) string {
	var b strings.Builder
	b.WriteString("edition: 3.0.0\nname: t\n" + section + ":\n  l0: &l0 {k: v}\n")
	for i := 1; i < 10; i++ {
		prev := fmt.Sprintf("l%d", i-1)
		args := make([]any, 10)
		for j := range args {
			args[j] = prev
		}
		fmt.Fprintf(&b, "  l%d: &l%d "+level+"\n", append([]any{i, i}, args...)...)
	}
	b.WriteString("resources:\n  fn:\n    component: fc3\n    props:\n" + use +
		"      functionName: fn\n      runtime: go1\n      code: .\n      handler: main\n")
	if !strings.Contains(use, "region") {
		b.WriteString("      region: cn-hangzhou\n")
	}
	return b.String()
}

func TestParseConfigDefaultsAndLeniency(t *testing.T) {
	y := `edition: 3.0.0
name: t
vars: {region: cn-shanghai, retries: 0}
defaults: &defaults
  runtime: go1
  handler: main
  memorySize: 128
resources:
  fn:
    component: fc3
    props:
      <<: *defaults
      region: ${vars.region}
      functionName: fn
      code: ./target/fn
      logConfig: auto
      instanceConcurrency: 10
      colour: blue
      asyncInvokeConfig: {maxAsyncRetryAttempts: "${vars.retries}"}
      environmentVariables: {N: 5, B: true, R: "${env('FCHOST_TEST_ENV')}"}
      triggers:
        - {triggerName: oss, triggerType: oss, triggerConfig: {}}
        - {triggerName: mns, triggerType: eventbridge, triggerConfig: {eventSourceConfig: {eventSourceType: MNS}, eventRuleFilterPattern: '{}'}}
        - {triggerName: t, triggerType: timer, triggerConfig: {cronExpression: 'CRON_TZ=Asia/Shanghai 0 0 8 ? * MON-FRI', payload: x}}
  domain:
    component: fc3-domain
    props: {}
`
	cfg, err := ParseConfig([]byte(y), ParseOptions{LookupEnv: func(k string) (string, bool) { return "from-env", k == "FCHOST_TEST_ENV" }})
	if err != nil {
		t.Fatal(err)
	}
	fn := cfg.Functions[0]
	if fn.Runtime != "go1" || fn.Handler != "main" || fn.MemorySize != 128 || fn.Timeout != 3*time.Second || fn.Region != "cn-shanghai" {
		t.Errorf("merged/default props = %+v", fn)
	}
	if fn.Async.MaxRetryAttempts != 0 {
		t.Errorf("retries from a quoted var = %d, want 0", fn.Async.MaxRetryAttempts)
	}
	if !reflect.DeepEqual(fn.Env, map[string]string{"N": "5", "B": "true", "R": "from-env"}) {
		t.Errorf("env = %v", fn.Env)
	}
	if len(fn.Triggers) != 1 || fn.Triggers[0].Name != "t" || !fn.Triggers[0].Timer.Enable {
		t.Errorf("triggers = %+v (oss and MNS are not emulated; timer enable defaults to true)", fn.Triggers)
	}
	if fn.Build != nil {
		t.Errorf("build = %+v, want nil without a pre-deploy action", fn.Build)
	}
	if !reflect.DeepEqual(cfg.Skipped, []string{"domain"}) {
		t.Errorf("skipped = %v", cfg.Skipped)
	}
	joined := strings.Join(cfg.Warnings, "\n")
	for _, w := range []string{"props.colour: not an fc3 function property", "triggers[oss].triggerType: oss triggers are not emulated",
		"eventSourceType: MNS is not emulated"} {
		if !strings.Contains(joined, w) {
			t.Errorf("warnings %q lack %q", joined, w)
		}
	}
	if strings.Contains(joined, "logConfig") || strings.Contains(joined, "instanceConcurrency") {
		t.Errorf("known fc3 props drew warnings: %q", joined)
	}
}

func TestParseBuildCommand(t *testing.T) {
	cases := []struct {
		run     string
		targets []string
		flags   []string
		out     string
	}{
		{"GOOS=linux GOARCH=amd64 CGO_ENABLED=0 go build -o target/x/main ./functions/x", []string{"./functions/x"}, nil, "target/x/main"},
		{"go build -trimpath -ldflags='-s -w' -tags netgo -o=target/x/main ./functions/x", []string{"./functions/x"}, []string{"-trimpath", "-ldflags=-s -w", "-tags=netgo"}, "target/x/main"},
		{"mkdir -p target && cd . && go build -v -o \"target/a b/main\" ./cmd/a ./cmd/b # comment", []string{"./cmd/a", "./cmd/b"}, nil, "target/a b/main"},
		{"go build -o main", []string{"."}, nil, "main"},
		{"go build \\\n  -o main \\\n  ./functions/y", []string{"./functions/y"}, nil, "main"},
		{"echo no build here; go vet ./...", nil, nil, ""},
	}
	for _, c := range cases {
		b, err := ParseBuildCommand(c.run)
		if err != nil {
			t.Fatalf("%q: %v", c.run, err)
		}
		if c.targets == nil {
			if b != nil {
				t.Errorf("%q: got %+v, want no build", c.run, b)
			}
			continue
		}
		if b == nil || !reflect.DeepEqual(b.Targets, c.targets) || !reflect.DeepEqual(b.Flags, c.flags) {
			t.Errorf("%q: got %+v, want targets %v flags %v", c.run, b, c.targets, c.flags)
		}
		if got := buildOutput(c.run); got != c.out {
			t.Errorf("%q: output %q, want %q", c.run, got, c.out)
		}
	}
	for _, bad := range []string{"go build -o", "go build 'unterminated", `go build "x`, "go build -nope ./x"} {
		if _, err := ParseBuildCommand(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseCron(t *testing.T) {
	ok := []string{"0 */15 * * * *", "*/1 * * * * *", "0 0 8 ? * MON-FRI", "CRON_TZ=Asia/Shanghai 0 0 8 * * *", "@every 1h30m", "@daily"}
	for _, e := range ok {
		if _, err := parseCron(e); err != nil {
			t.Errorf("%q: %v", e, err)
		}
	}
	bad := map[string]string{
		"":                                 "required",
		"* * * * *":                        "has 5 fields",
		"* * * * * * *":                    "has 7 fields",
		"0 60 * * * *":                     "end of range (60) above maximum (59)",
		"@every 10ms":                      "at least 1s",
		"CRON_TZ=Nowhere":                  "must be followed by the schedule",
		"CRON_TZ=Nowhere/City 0 0 * * * *": "provided bad location",
	}
	for e, want := range bad {
		if _, err := parseCron(e); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", e, err, want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(doc()))
	f.Add([]byte(doc("TRIGGERS", "[{triggerName: h, triggerType: http, triggerConfig: {authType: function, methods: [GET, POST]}}]")))
	f.Add([]byte("a: &a [*a]\nedition: 3.0.0"))
	f.Add([]byte("edition: 3.0.0\nname: x\nvars: &v {a: *v}\nresources: {f: {component: fc3, props: {<<: *v}}}"))
	f.Add([]byte("edition: ${vars.x}\nvars: {x: ${vars.x}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data, ParseOptions{Dir: "/tmp", AccountID: testAccount, LookupEnv: func(string) (string, bool) { return "", false }})
		if err != nil {
			return
		}
		// Whatever parses must satisfy the rules fchost relies on.
		for _, fn := range cfg.Functions {
			if fn.MemorySize < minMemoryMB || fn.MemorySize%memoryStepMB != 0 || fn.Timeout < time.Second || !functionNameRE.MatchString(fn.Name) {
				t.Fatalf("invalid function accepted: %+v", fn)
			}
			for _, tr := range fn.Triggers {
				n := 0
				for _, set := range []bool{tr.Timer != nil, tr.HTTP != nil, tr.EventBridge != nil} {
					if set {
						n++
					}
				}
				if n != 1 {
					t.Fatalf("trigger %+v has not exactly one config", tr)
				}
				if tr.EventBridge != nil && !json.Valid(tr.EventBridge.Pattern) {
					t.Fatalf("pattern %q is not JSON", tr.EventBridge.Pattern)
				}
				if tr.Timer != nil {
					if _, err := parseCron(tr.Timer.CronExpression); err != nil {
						t.Fatalf("cron %q accepted: %v", tr.Timer.CronExpression, err)
					}
				}
			}
		}
	})
}

func FuzzParseBuildCommand(f *testing.F) {
	f.Add("GOOS=linux go build -o target/x/main ./functions/x")
	f.Add(`go build -ldflags "-X 'main.v=1'" -o x ./y && echo ok`)
	f.Fuzz(func(t *testing.T, run string) {
		b, err := ParseBuildCommand(run)
		if err == nil && b != nil && len(b.Targets) == 0 {
			t.Fatalf("%q: a build without targets", run)
		}
		_ = buildOutput(run)
	})
}
