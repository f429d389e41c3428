package fchost

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the part of an s.yaml (Serverless Devs 3, component fc3) that fchost runs.
type Config struct {
	Path    string // the file read; empty when parsed from bytes
	Dir     string // relative paths (code, action paths) are resolved against it
	Edition string
	Name    string
	Access  string
	// Functions are the fc3 resources in file order.
	Functions []*Function
	// Skipped names resources of other components (fc3-domain, ...), which fchost does not run.
	Skipped []string
	// Warnings are things fc3 accepts that fchost ignores (unknown props, trigger types it does not emulate).
	Warnings []string
}

// Function is one fc3 resource.
type Function struct {
	Resource   string // the key under resources:
	Name       string // props.functionName
	Region     string
	Runtime    string
	Code       string // props.code, relative to Config.Dir
	Handler    string // for go1 the binary's file name
	MemorySize int    // MB
	Timeout    time.Duration
	Role       string // acs:ram::<uid>:role/<name>, empty when the function has no role
	Env        map[string]string
	Async      AsyncConfig
	// Initializer and PreStop are instanceLifecycleConfig hooks; nil when not configured.
	Initializer *LifecycleHook
	PreStop     *LifecycleHook
	Triggers    []*Trigger
	// Build is how to build the handler locally, derived from the pre-deploy go build action; nil when there is none.
	Build *BuildSpec
}

// AsyncConfig is props.asyncInvokeConfig with fc3's defaults filled in.
type AsyncConfig struct {
	MaxRetryAttempts int           // 0..8, default 3
	MaxEventAge      time.Duration // 1s..86400s, default 86400s
}

// LifecycleHook is an instanceLifecycleConfig initializer or preStop.
type LifecycleHook struct {
	Handler string
	Timeout time.Duration
}

// Trigger types fchost emulates.
const (
	TriggerTimer       = "timer"
	TriggerHTTP        = "http"
	TriggerEventBridge = "eventbridge"
)

// Trigger is one entry of props.triggers; exactly one of Timer, HTTP, EventBridge is set.
type Trigger struct {
	Name        string
	Type        string
	Qualifier   string
	Timer       *TimerConfig
	HTTP        *HTTPConfig
	EventBridge *EventBridgeConfig
}

// TimerConfig is a timer trigger's triggerConfig.
type TimerConfig struct {
	CronExpression string
	Enable         bool
	Payload        string
}

// HTTPConfig is an http trigger's triggerConfig.
type HTTPConfig struct {
	AuthType           string // anonymous | function | jwt
	Methods            []string
	DisableURLInternet bool
}

// EventBridgeConfig is an eventbridge trigger's triggerConfig.
type EventBridgeConfig struct {
	Enable          bool            // triggerEnable
	Async           bool            // asyncInvocationType
	EventSourceType string          // eventSourceConfig.eventSourceType (Default = the account's default bus)
	Pattern         json.RawMessage // eventRuleFilterPattern, a JSON object
}

// BuildSpec is a local `go build`: run in Dir, building Targets (packages or files) with Flags.
type BuildSpec struct {
	Dir     string   // absolute
	Targets []string // as written, relative to Dir
	Flags   []string // build flags worth keeping locally (-tags, -ldflags, -trimpath, -mod)
	Run     string   // the pre-deploy run line it came from
}

// ParseOptions resolve what an s.yaml takes from its surroundings.
type ParseOptions struct {
	// Dir resolves relative paths; default the working directory.
	Dir string
	// AccountID answers ${config('AccountID')}; empty makes that expression an error.
	AccountID string
	// LookupEnv answers ${env('NAME')}; default os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// LoadConfig reads and validates an s.yaml. ${config('AccountID')} is not available: use LoadConfigWith.
func LoadConfig(path string) (*Config, error) {
	return LoadConfigWith(path, ParseOptions{})
}

// LoadConfigWith reads and validates an s.yaml, resolving paths against its directory.
func LoadConfigWith(path string, opts ParseOptions) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("s.yaml: %w", err)
	}
	if opts.Dir == "" {
		opts.Dir = filepath.Dir(path)
	}
	cfg, err := ParseConfig(data, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg.Path = path
	return cfg, nil
}

// Limits fc3 enforces (the fc3 component's schema and the FC 3.0 API).
const (
	minMemoryMB       = 128
	maxMemoryMB       = 32768
	memoryStepMB      = 64
	maxTimeoutSeconds = 86400
	maxAsyncRetries   = 8
	defaultAsyncRetry = 3
	maxEventAgeSecs   = 86400
	defaultMemoryMB   = 128
	defaultTimeout    = 3 * time.Second
	maxLifecycleSecs  = 600
	defaultQualifier  = "LATEST"
	fc3Edition        = "3.0.0"
)

var (
	// FC 3.0: letters, digits, _ and -, not starting with a digit or -, 1..64 characters.
	functionNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)
	triggerNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,127}$`)
	regionRE       = regexp.MustCompile(`^[a-z]{2,}(-[a-z0-9]+)+$`)
	roleARNRE      = regexp.MustCompile(`^(?i:acs:ram::)([0-9]+):role/([A-Za-z0-9.-]{1,64})$`)
	envKeyRE       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	exprRE         = regexp.MustCompile(`\$\{([^}]*)\}`)
	varPathRE      = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
)

var httpMethods = map[string]bool{"GET": true, "POST": true, "PUT": true, "DELETE": true, "HEAD": true, "PATCH": true, "OPTIONS": true}

// Trigger types fc3 knows but fchost does not emulate: accepted with a warning.
var otherTriggerTypes = map[string]bool{
	"oss": true, "log": true, "mns_topic": true, "cdn_events": true, "tablestore": true, "rds": true,
	"mq_rocketmq": true, "mq_rabbitmq": true, "kafka": true, "dts": true,
}

// fc3 function properties fchost reads or knowingly ignores; anything else draws a warning (likely a typo).
var knownProps = map[string]bool{
	"region": true, "functionName": true, "runtime": true, "code": true, "handler": true, "memorySize": true,
	"timeout": true, "role": true, "environmentVariables": true, "asyncInvokeConfig": true, "triggers": true,
	"instanceLifecycleConfig": true, "description": true, "logConfig": true, "vpcConfig": true, "nasConfig": true,
	"ossMountConfig": true, "instanceConcurrency": true, "cpu": true, "diskSize": true, "layers": true,
	"internetAccess": true, "customRuntimeConfig": true, "customContainerConfig": true, "gpuConfig": true,
	"tracingConfig": true, "provisionConfig": true, "concurrencyConfig": true, "customDomain": true, "tags": true,
	"sessionAffinity": true, "vpcBinding": true, "artifact": true, "instanceIsolationMode": true, "idleTimeout": true,
}

// ParseConfig parses and validates an s.yaml. Errors name the field (resources.<name>.props.<field>) and the rule.
func ParseConfig(data []byte, opts ParseOptions) (cfg *Config, err error) {
	defer func() {
		// The YAML library has panicked on malformed input before; bad input must be an error.
		if r := recover(); r != nil {
			cfg, err = nil, fmt.Errorf("s.yaml: malformed YAML: %v", r)
		}
	}()
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	dir := opts.Dir
	if dir == "" {
		dir = "."
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, fmt.Errorf("s.yaml: directory: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("s.yaml: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("s.yaml: the document must be a mapping (edition, name, resources, ...)")
	}
	p := &parser{opts: opts, dir: dir, budget: maxExpandedNodes}
	root := doc.Content[0]
	top, err := p.entries(root, "")
	if err != nil {
		return nil, err
	}
	// vars may use env and config but not other vars; every other value may use all three.
	if v, ok := top["vars"]; ok {
		if v.node.Kind != yaml.MappingNode {
			return nil, fieldErr("vars", v.node, "must be a mapping")
		}
		if err := p.substitute(v.node, "vars", false); err != nil {
			return nil, err
		}
		p.vars = v.node
	}
	for _, k := range sortedKeys(top) {
		if k == "vars" {
			continue
		}
		if err := p.substitute(top[k].node, k, true); err != nil {
			return nil, err
		}
	}
	return p.config(top)
}

func (p *parser) config(top map[string]entry) (*Config, error) {
	cfg := &Config{Dir: p.dir}
	var err error
	var n *yaml.Node
	if cfg.Edition, n, err = p.str(top, "edition", ""); err != nil {
		return nil, err
	}
	if cfg.Edition != fc3Edition {
		return nil, fieldErr("edition", n, "must be %s (Serverless Devs 3, which the fc3 component needs), got %q", fc3Edition, cfg.Edition)
	}
	if cfg.Name, n, err = p.str(top, "name", ""); err != nil {
		return nil, err
	}
	if strings.TrimSpace(cfg.Name) == "" {
		return nil, fieldErr("name", n, "required: the project name")
	}
	if cfg.Access, _, err = p.str(top, "access", ""); err != nil {
		return nil, err
	}
	res, ok := top["resources"]
	if !ok {
		return nil, fieldErr("resources", nil, "required: at least one fc3 resource")
	}
	rn := resolve(res.node)
	if rn == nil || rn.Kind != yaml.MappingNode {
		return nil, fieldErr("resources", res.node, "must be a mapping of resource name to resource")
	}
	names := map[string]string{}
	for i := 0; i+1 < len(rn.Content); i += 2 {
		key, val := rn.Content[i], rn.Content[i+1]
		path := "resources." + key.Value
		if key.Value == "<<" {
			return nil, fieldErr("resources", key, "merge keys are not supported directly under resources")
		}
		r, err := p.entries(val, path)
		if err != nil {
			return nil, err
		}
		comp, cn, err := p.str(r, "component", path)
		if err != nil {
			return nil, err
		}
		if comp == "" {
			return nil, fieldErr(path+".component", cn, "required (fc3 for a function)")
		}
		if comp != "fc3" && !strings.HasPrefix(comp, "fc3@") {
			cfg.Skipped = append(cfg.Skipped, key.Value)
			continue
		}
		fn, err := p.function(key.Value, r, path)
		if err != nil {
			return nil, err
		}
		if prev, dup := names[fn.Name]; dup {
			return nil, fieldErr(path+".props.functionName", nil, "%q is also the functionName of resources.%s", fn.Name, prev)
		}
		names[fn.Name] = key.Value
		cfg.Functions = append(cfg.Functions, fn)
	}
	if len(cfg.Functions) == 0 {
		return nil, fieldErr("resources", rn, "has no fc3 resource")
	}
	cfg.Warnings = p.warnings
	return cfg, nil
}

func (p *parser) function(resource string, r map[string]entry, path string) (*Function, error) {
	fn := &Function{Resource: resource}
	props, pn, err := p.mapping(r, "props", path)
	if err != nil {
		return nil, err
	}
	if props == nil {
		return nil, fieldErr(path+".props", pn, "required")
	}
	pp := path + ".props"
	for _, k := range sortedKeys(props) {
		if !knownProps[k] {
			p.warnings = append(p.warnings, fmt.Sprintf("%s.%s: not an fc3 function property fchost knows; ignored", pp, k))
		}
	}
	required := func(key, rule string, check func(string) bool) (string, error) {
		v, n, err := p.str(props, key, pp)
		if err != nil {
			return "", err
		}
		if v == "" {
			return "", fieldErr(join(pp, key), n, "required: %s", rule)
		}
		if check != nil && !check(v) {
			return "", fieldErr(join(pp, key), n, "%q is invalid: %s", v, rule)
		}
		return v, nil
	}
	if fn.Region, err = required("region", "a region id such as cn-hangzhou", regionRE.MatchString); err != nil {
		return nil, err
	}
	if fn.Name, err = required("functionName", "1 to 64 letters, digits, _ or -, not starting with a digit or -", functionNameRE.MatchString); err != nil {
		return nil, err
	}
	if fn.Name == adminPrefix[1:] {
		return nil, fieldErr(pp+".functionName", nil, "%q is reserved by fchost", fn.Name)
	}
	if fn.Runtime, err = required("runtime", "go1 (fchost runs Go functions through the FC runtime API)", func(s string) bool { return s == "go1" }); err != nil {
		return nil, err
	}
	codeEntry, ok := props["code"]
	if !ok {
		return nil, fieldErr(pp+".code", nil, "required: the directory holding the built handler")
	}
	if cn := resolve(codeEntry.node); cn == nil || cn.Kind != yaml.ScalarNode || strings.TrimSpace(cn.Value) == "" {
		return nil, fieldErr(pp+".code", codeEntry.node, "must be a local directory (fchost does not fetch code from OSS)")
	} else {
		fn.Code = cn.Value
	}
	if fn.Handler, err = required("handler", "the binary's file name", func(s string) bool {
		return !strings.ContainsAny(s, `/\`) && s != "." && s != ".."
	}); err != nil {
		return nil, err
	}
	fn.MemorySize = defaultMemoryMB
	if v, err := p.integer(props, "memorySize", pp); err != nil {
		return nil, err
	} else if v != nil {
		if *v < minMemoryMB || *v > maxMemoryMB || *v%memoryStepMB != 0 {
			return nil, fieldErr(pp+".memorySize", nil, "%d MB is invalid: %d..%d and a multiple of %d", *v, minMemoryMB, maxMemoryMB, memoryStepMB)
		}
		fn.MemorySize = *v
	}
	fn.Timeout = defaultTimeout
	if v, err := p.integer(props, "timeout", pp); err != nil {
		return nil, err
	} else if v != nil {
		if *v < 1 || *v > maxTimeoutSeconds {
			return nil, fieldErr(pp+".timeout", nil, "%d s is invalid: 1..%d seconds", *v, maxTimeoutSeconds)
		}
		fn.Timeout = time.Duration(*v) * time.Second
	}
	if role, n, err := p.str(props, "role", pp); err != nil {
		return nil, err
	} else if role != "" {
		if !roleARNRE.MatchString(role) {
			return nil, fieldErr(pp+".role", n, "%q is invalid: a role ARN acs:ram::<account id>:role/<name>", role)
		}
		fn.Role = role
	}
	if fn.Env, err = p.env(props, pp); err != nil {
		return nil, err
	}
	if fn.Async, err = p.async(props, pp); err != nil {
		return nil, err
	}
	if fn.Initializer, fn.PreStop, err = p.lifecycle(props, pp); err != nil {
		return nil, err
	}
	if fn.Triggers, err = p.triggers(props, pp); err != nil {
		return nil, err
	}
	if fn.Build, err = p.build(r, path, fn); err != nil {
		return nil, err
	}
	return fn, nil
}

func (p *parser) env(props map[string]entry, pp string) (map[string]string, error) {
	m, _, err := p.mapping(props, "environmentVariables", pp)
	if err != nil || m == nil {
		return map[string]string{}, err
	}
	path := pp + ".environmentVariables"
	out := make(map[string]string, len(m))
	for _, k := range sortedKeys(m) {
		if !envKeyRE.MatchString(k) {
			return nil, fieldErr(join(path, k), m[k].key, "is not a valid variable name: letters, digits and _, not starting with a digit")
		}
		v, _, err := p.str(m, k, path)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

func (p *parser) async(props map[string]entry, pp string) (AsyncConfig, error) {
	out := AsyncConfig{MaxRetryAttempts: defaultAsyncRetry, MaxEventAge: maxEventAgeSecs * time.Second}
	m, _, err := p.mapping(props, "asyncInvokeConfig", pp)
	if err != nil || m == nil {
		return out, err
	}
	path := pp + ".asyncInvokeConfig"
	if v, err := p.integer(m, "maxAsyncRetryAttempts", path); err != nil {
		return out, err
	} else if v != nil {
		if *v < 0 || *v > maxAsyncRetries {
			return out, fieldErr(path+".maxAsyncRetryAttempts", nil, "%d is invalid: 0..%d", *v, maxAsyncRetries)
		}
		out.MaxRetryAttempts = *v
	}
	if v, err := p.integer(m, "maxAsyncEventAgeInSeconds", path); err != nil {
		return out, err
	} else if v != nil {
		if *v < 1 || *v > maxEventAgeSecs {
			return out, fieldErr(path+".maxAsyncEventAgeInSeconds", nil, "%d is invalid: 1..%d seconds", *v, maxEventAgeSecs)
		}
		out.MaxEventAge = time.Duration(*v) * time.Second
	}
	return out, nil
}

func (p *parser) lifecycle(props map[string]entry, pp string) (init, stop *LifecycleHook, err error) {
	m, _, err := p.mapping(props, "instanceLifecycleConfig", pp)
	if err != nil || m == nil {
		return nil, nil, err
	}
	path := pp + ".instanceLifecycleConfig"
	hook := func(key string) (*LifecycleHook, error) {
		h, _, err := p.mapping(m, key, path)
		if err != nil || h == nil {
			return nil, err
		}
		hp := join(path, key)
		handler, _, err := p.str(h, "handler", hp)
		if err != nil || handler == "" {
			return nil, err // an empty handler means the hook is off, as in fc3
		}
		out := &LifecycleHook{Handler: handler, Timeout: 3 * time.Second}
		if v, err := p.integer(h, "timeout", hp); err != nil {
			return nil, err
		} else if v != nil {
			if *v < 1 || *v > maxLifecycleSecs {
				return nil, fieldErr(hp+".timeout", nil, "%d s is invalid: 1..%d seconds", *v, maxLifecycleSecs)
			}
			out.Timeout = time.Duration(*v) * time.Second
		}
		return out, nil
	}
	if init, err = hook("initializer"); err != nil {
		return nil, nil, err
	}
	if stop, err = hook("preStop"); err != nil {
		return nil, nil, err
	}
	return init, stop, nil
}

func (p *parser) triggers(props map[string]entry, pp string) ([]*Trigger, error) {
	list, err := p.sequence(props, "triggers", pp)
	if err != nil {
		return nil, err
	}
	var out []*Trigger
	seen := map[string]bool{}
	httpTriggers := 0
	for i, n := range list {
		path := fmt.Sprintf("%s.triggers[%d]", pp, i)
		m, err := p.entries(n, path)
		if err != nil {
			return nil, err
		}
		t := &Trigger{}
		var tn *yaml.Node
		if t.Name, tn, err = p.str(m, "triggerName", path); err != nil {
			return nil, err
		}
		if !triggerNameRE.MatchString(t.Name) {
			return nil, fieldErr(path+".triggerName", tn, "%q is invalid: 1 to 128 letters, digits, _ or -, not starting with a digit or -", t.Name)
		}
		if seen[t.Name] {
			return nil, fieldErr(path+".triggerName", tn, "%q is used twice in this function", t.Name)
		}
		seen[t.Name] = true
		path = fmt.Sprintf("%s.triggers[%s]", pp, t.Name)
		if t.Type, tn, err = p.str(m, "triggerType", path); err != nil {
			return nil, err
		}
		if t.Qualifier, _, err = p.str(m, "qualifier", path); err != nil {
			return nil, err
		}
		if t.Qualifier == "" {
			t.Qualifier = defaultQualifier
		}
		tc, tcn, err := p.mapping(m, "triggerConfig", path)
		if err != nil {
			return nil, err
		}
		if tc == nil && (t.Type == TriggerTimer || t.Type == TriggerHTTP || t.Type == TriggerEventBridge) {
			return nil, fieldErr(path+".triggerConfig", tcn, "required for a %s trigger", t.Type)
		}
		cp := path + ".triggerConfig"
		switch t.Type {
		case TriggerTimer:
			if t.Timer, err = p.timer(tc, cp); err != nil {
				return nil, err
			}
		case TriggerHTTP:
			httpTriggers++
			if httpTriggers > 1 {
				return nil, fieldErr(path, tn, "a function has at most one http trigger")
			}
			if t.HTTP, err = p.http(tc, cp); err != nil {
				return nil, err
			}
		case TriggerEventBridge:
			if t.EventBridge, err = p.eventBridge(tc, cp); err != nil {
				return nil, err
			}
			if t.EventBridge.EventSourceType != "Default" {
				p.warnings = append(p.warnings, fmt.Sprintf("%s.eventSourceConfig.eventSourceType: %s is not emulated (only the default bus); trigger ignored", cp, t.EventBridge.EventSourceType))
				continue
			}
		default:
			if otherTriggerTypes[t.Type] {
				p.warnings = append(p.warnings, fmt.Sprintf("%s.triggerType: %s triggers are not emulated by fchost; ignored", path, t.Type))
				continue
			}
			return nil, fieldErr(path+".triggerType", tn, "%q is invalid: timer, http, eventbridge (or another fc3 trigger type)", t.Type)
		}
		out = append(out, t)
	}
	return out, nil
}

func (p *parser) timer(tc map[string]entry, cp string) (*TimerConfig, error) {
	out := &TimerConfig{Enable: true}
	expr, n, err := p.str(tc, "cronExpression", cp)
	if err != nil {
		return nil, err
	}
	if _, err := parseCron(expr); err != nil {
		return nil, fieldErr(cp+".cronExpression", n, "%v", err)
	}
	out.CronExpression = expr
	if v, err := p.boolean(tc, "enable", cp); err != nil {
		return nil, err
	} else if v != nil {
		out.Enable = *v
	}
	if out.Payload, _, err = p.str(tc, "payload", cp); err != nil {
		return nil, err
	}
	return out, nil
}

func (p *parser) http(tc map[string]entry, cp string) (*HTTPConfig, error) {
	out := &HTTPConfig{}
	var n *yaml.Node
	var err error
	if out.AuthType, n, err = p.str(tc, "authType", cp); err != nil {
		return nil, err
	}
	switch out.AuthType {
	case "anonymous", "function", "jwt":
	default:
		return nil, fieldErr(cp+".authType", n, "%q is invalid: anonymous, function or jwt", out.AuthType)
	}
	list, err := p.sequence(tc, "methods", cp)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, fieldErr(cp+".methods", nil, "required: at least one of GET, POST, PUT, DELETE, HEAD, PATCH, OPTIONS")
	}
	seen := map[string]bool{}
	for i, mn := range list {
		mn = resolve(mn)
		if mn == nil || mn.Kind != yaml.ScalarNode || !httpMethods[mn.Value] {
			v := ""
			if mn != nil {
				v = mn.Value
			}
			return nil, fieldErr(fmt.Sprintf("%s.methods[%d]", cp, i), mn, "%q is invalid: GET, POST, PUT, DELETE, HEAD, PATCH or OPTIONS (upper case)", v)
		}
		if seen[mn.Value] {
			return nil, fieldErr(fmt.Sprintf("%s.methods[%d]", cp, i), mn, "%s is listed twice", mn.Value)
		}
		seen[mn.Value] = true
		out.Methods = append(out.Methods, mn.Value)
	}
	if v, err := p.boolean(tc, "disableURLInternet", cp); err != nil {
		return nil, err
	} else if v != nil {
		out.DisableURLInternet = *v
	}
	return out, nil
}

func (p *parser) eventBridge(tc map[string]entry, cp string) (*EventBridgeConfig, error) {
	out := &EventBridgeConfig{Enable: true, EventSourceType: "Default"}
	if v, err := p.boolean(tc, "triggerEnable", cp); err != nil {
		return nil, err
	} else if v != nil {
		out.Enable = *v
	}
	if v, err := p.boolean(tc, "asyncInvocationType", cp); err != nil {
		return nil, err
	} else if v != nil {
		out.Async = *v
	}
	if src, _, err := p.mapping(tc, "eventSourceConfig", cp); err != nil {
		return nil, err
	} else if src != nil {
		typ, _, err := p.str(src, "eventSourceType", cp+".eventSourceConfig")
		if err != nil {
			return nil, err
		}
		if typ != "" {
			out.EventSourceType = typ
		}
	}
	raw, n, err := p.str(tc, "eventRuleFilterPattern", cp)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(raw) == "" {
		return nil, fieldErr(cp+".eventRuleFilterPattern", n, `required: an EventBridge pattern as a JSON string, e.g. '{"source":["acs.actiontrail"]}'`)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(raw), &obj); err != nil || obj == nil {
		return nil, fieldErr(cp+".eventRuleFilterPattern", n, "must be a JSON object: %v", errOr(err, "null"))
	}
	compact, _ := json.Marshal(obj)
	out.Pattern = compact
	return out, nil
}

func errOr(err error, alt string) string {
	if err != nil {
		return err.Error()
	}
	return alt
}

// build finds the pre-deploy action that builds this function's handler.
func (p *parser) build(r map[string]entry, path string, fn *Function) (*BuildSpec, error) {
	actions, _, err := p.mapping(r, "actions", path)
	if err != nil || actions == nil {
		return nil, err
	}
	list, err := p.sequence(actions, "pre-deploy", path+".actions")
	if err != nil {
		return nil, err
	}
	want := filepath.Clean(filepath.Join(fn.Code, fn.Handler))
	var first *BuildSpec
	for i, n := range list {
		ap := fmt.Sprintf("%s.actions.pre-deploy[%d]", path, i)
		m, err := p.entries(n, ap)
		if err != nil {
			return nil, err
		}
		run, rn, err := p.str(m, "run", ap)
		if err != nil {
			return nil, err
		}
		if run == "" {
			continue // a component or plugin action
		}
		dir, _, err := p.str(m, "path", ap)
		if err != nil {
			return nil, err
		}
		b, err := ParseBuildCommand(run)
		if err != nil {
			return nil, fieldErr(ap+".run", rn, "%v", err)
		}
		if b == nil {
			continue
		}
		if dir == "" {
			dir = "."
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(p.dir, dir)
		}
		b.Dir = filepath.Clean(dir)
		// Prefer the action whose output is code/handler: a resource may build helpers too.
		if out := buildOutput(run); out != "" && filepath.Clean(filepath.Join(rel(p.dir, b.Dir), out)) == want {
			return b, nil
		}
		if first == nil {
			first = b
		}
	}
	return first, nil
}

func rel(base, target string) string {
	r, err := filepath.Rel(base, target)
	if err != nil {
		return target
	}
	return r
}
