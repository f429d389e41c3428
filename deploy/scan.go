package deploy

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// sdkKind is an SDK whose calls are recognised by method name (its values are created by the SDK
// and passed around, so the package qualifier is not at the call site).
type sdkKind int

const (
	kindSLS sdkKind = iota + 1 // aliyun-log-go-sdk and its producer
	kindOSS                    // aliyun-oss-go-sdk/oss (v3)
	kindFC                     // fc-20230330/v4 client (and the darabonba-openapi client it embeds)
)

var kindNames = map[sdkKind]string{kindSLS: "SLS", kindOSS: "OSS", kindFC: "FC"}

func (k sdkKind) String() string { return kindNames[k] }

func (k sdkKind) table() map[string]entry {
	switch k {
	case kindSLS:
		return slsMethods
	case kindOSS:
		return ossMethods
	case kindFC:
		return fcMethods
	}
	return nil
}

// Call is one call site of a cloud API.
type Call struct {
	Action string         // RAM action, e.g. "oss:PutObject"
	Pos    token.Position // Filename is relative to the scanned root, slash-separated
	Func   string         // enclosing function: "put", "Store.put"; "" at package level
	Via    string         // what the scanner read: "sts.CreateAssumeRoleRequest", "PutObject", ...
}

func (c Call) String() string {
	fn := c.Func
	if fn == "" {
		fn = "package level"
	}
	return fmt.Sprintf("%s:%d %s (%s)", c.Pos.Filename, c.Pos.Line, fn, c.Via)
}

// Problem is a call site the scanner cannot map to RAM actions. Every Problem fails the policy
// test: a call it cannot read must never slip past the policy.
type Problem struct {
	Pos token.Position
	Msg string
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s", p.Pos.Filename, p.Pos.Line, p.Msg) }

// Scanner finds the cloud API calls in Go source without type checking: see the package
// documentation for the rules and their limits.
type Scanner struct {
	methods map[sdkKind]Methods
}

// SDKMethods are the method sets of the SDKs' API types (see LoadMethods). A scanned file that
// imports an SDK whose set is nil gets a Problem.
type SDKMethods struct {
	SLS Methods // aliyun-log-go-sdk: ClientInterface, Client, LogProject, LogStore; producer.Producer
	OSS Methods // aliyun-oss-go-sdk/oss: Client, Bucket, Conn
	FC  Methods // fc-20230330/v4/client: Client
}

// NewScanner returns a Scanner matching method calls against m.
func NewScanner(m SDKMethods) *Scanner {
	fc := Methods{}
	fc.Add(m.FC)
	if m.FC != nil {
		for _, n := range fcGenericNames {
			fc[n] = append(fc[n], anySig)
		}
	} else {
		fc = nil
	}
	return &Scanner{methods: map[sdkKind]Methods{kindSLS: m.SLS, kindOSS: m.OSS, kindFC: fc}}
}

// ScanFile scans one Go source file; name is how positions refer to it.
func (s *Scanner) ScanFile(name string, src []byte) ([]Call, []Problem, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, nil, err
	}
	st := &fileScan{s: s, fset: fset, seen: map[*ast.SelectorExpr]bool{}}
	st.scan(f)
	return st.calls, st.problems, nil
}

// ScanTree scans the non-test .go files under root/dir for each dir, skipping testdata, hidden
// and underscore directories and the slash-separated paths (relative to root) in skip.
// Positions name files relative to root.
func (s *Scanner) ScanTree(root string, dirs, skip []string) ([]Call, []Problem, error) {
	var calls []Call
	var problems []Problem
	for _, dir := range dirs {
		err := filepath.WalkDir(filepath.Join(root, filepath.FromSlash(dir)), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			if d.IsDir() {
				base := d.Name()
				if base == "testdata" || (rel != dir && (strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_"))) || skipped(rel, skip) {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") || skipped(rel, skip) {
				return nil
			}
			src, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			c, pr, err := s.ScanFile(rel, src)
			if err != nil {
				return fmt.Errorf("scan %s: %w", rel, err)
			}
			calls = append(calls, c...)
			problems = append(problems, pr...)
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return calls, problems, nil
}

func skipped(rel string, skip []string) bool {
	for _, s := range skip {
		if rel == s || strings.HasPrefix(rel, s+"/") {
			return true
		}
	}
	return false
}

// fileScan is the state of scanning one file.
type fileScan struct {
	s        *Scanner
	fset     *token.FileSet
	imports  map[string]string // local name -> import path (every import, so pkg.Func calls are not methods)
	rpc      map[string]string // local name -> alibaba-cloud-sdk-go service
	kinds    []sdkKind         // SDKs imported, in a fixed order
	common   bool              // imports sdk/requests: CommonRequest ApiName assignments are read
	httpName string            // local name of net/http, for http.MethodPut
	fn       string            // enclosing function name
	fnBody   ast.Node          // enclosing function declaration (CommonRequest product lookup)
	seen     map[*ast.SelectorExpr]bool
	missing  map[sdkKind]bool // method set not loaded, reported once
	calls    []Call
	problems []Problem
}

func (f *fileScan) pos(n ast.Node) token.Position {
	p := f.fset.Position(n.Pos())
	p.Filename = filepath.ToSlash(p.Filename)
	return p
}

func (f *fileScan) problem(n ast.Node, format string, args ...any) {
	f.problems = append(f.problems, Problem{Pos: f.pos(n), Msg: fmt.Sprintf(format, args...)})
}

func (f *fileScan) record(n ast.Node, via string, actions ...string) {
	for _, a := range actions {
		f.calls = append(f.calls, Call{Action: a, Pos: f.pos(n), Func: f.fn, Via: via})
	}
}

func (f *fileScan) scan(file *ast.File) {
	f.imports, f.rpc = map[string]string{}, map[string]string{}
	kinds := map[sdkKind]bool{}
	for _, imp := range file.Imports {
		p, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			continue
		}
		name := defaultName(p)
		if imp.Name != nil {
			name = imp.Name.Name
		}
		rpc, kind, problem := classifyImport(p)
		if problem != "" {
			f.problem(imp, "%s", problem)
			continue
		}
		if name == "." && (rpc != "" || kind != 0) {
			f.problem(imp, "dot import of %s: calls cannot be attributed to the SDK; import it by name", p)
			continue
		}
		if name == "_" {
			continue
		}
		f.imports[name] = p
		switch {
		case rpc != "":
			f.rpc[name] = rpc
		case kind != 0:
			kinds[kind] = true
		case p == rpcRequestsPath:
			f.common = true
		case p == "net/http":
			f.httpName = name
		}
	}
	for _, k := range []sdkKind{kindSLS, kindOSS, kindFC} {
		if kinds[k] {
			f.kinds = append(f.kinds, k)
		}
	}
	for _, decl := range file.Decls {
		f.fn, f.fnBody = "", decl
		if fd, ok := decl.(*ast.FuncDecl); ok {
			f.fn = funcName(fd)
		}
		ast.Inspect(decl, f.visit)
	}
}

// defaultName is the package name an import gets without an explicit name.
func defaultName(p string) string {
	if n, ok := packageNames[p]; ok {
		return n
	}
	elems := strings.Split(p, "/")
	last := elems[len(elems)-1]
	if len(elems) > 1 && majorVersionRE.MatchString(last) {
		last = elems[len(elems)-2]
	}
	last = strings.TrimPrefix(last, "go-")
	if i := strings.Index(last, ".v"); i > 0 {
		last = last[:i]
	}
	return last
}

func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	t := fd.Recv.List[0].Type
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
			continue
		case *ast.IndexExpr:
			t = x.X
			continue
		case *ast.IndexListExpr:
			t = x.X
			continue
		}
		break
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return fd.Name.Name
}

var (
	createRequestRE = regexp.MustCompile(`^Create([A-Z][A-Za-z0-9]*)Request$`)
	majorVersionRE  = regexp.MustCompile(`^v[0-9]+$`)
)

func (f *fileScan) visit(n ast.Node) bool {
	switch x := n.(type) {
	case *ast.CallExpr:
		f.call(x)
	case *ast.SelectorExpr:
		f.selector(x)
	case *ast.CompositeLit:
		f.composite(x)
	case *ast.AssignStmt:
		if f.common {
			for i, lhs := range x.Lhs {
				if sel, ok := lhs.(*ast.SelectorExpr); ok && sel.Sel.Name == "ApiName" && i < len(x.Rhs) {
					f.commonRequest(x, x.Rhs[i])
				}
			}
		}
	}
	return true
}

// pkgOf returns the import path when e is a package name of this file.
func (f *fileScan) pkgOf(e ast.Expr) (string, bool) {
	id, ok := e.(*ast.Ident)
	if !ok {
		return "", false
	}
	p, ok := f.imports[id.Name]
	return p, ok
}

func (f *fileScan) call(c *ast.CallExpr) {
	// new(sts.AssumeRoleRequest)
	if id, ok := c.Fun.(*ast.Ident); ok && id.Name == "new" && len(c.Args) == 1 {
		f.requestType(c, c.Args[0])
		return
	}
	sel, ok := c.Fun.(*ast.SelectorExpr)
	if !ok {
		return
	}
	f.seen[sel] = true
	if _, isPkg := f.pkgOf(sel.X); isPkg {
		return // a package function: RPC constructors are read by selector
	}
	name := sel.Sel.Name
	if f.common && (name == "ProcessCommonRequest" || name == "ProcessCommonRequestWithSigner") && !hasAPIName(f.fnBody) {
		f.problem(c, "%s without a literal ApiName assignment in the same function: the action cannot be read", name)
	}
	f.method(c, sel, len(c.Args), c.Ellipsis.IsValid(), c)
}

// selector reads RPC request constructors (rm.CreateListAccountsRequest, called or not) and
// method values of SDK API methods (f := bucket.PutObject).
func (f *fileScan) selector(sel *ast.SelectorExpr) {
	if id, ok := sel.X.(*ast.Ident); ok {
		if svc, ok := f.rpc[id.Name]; ok {
			if m := createRequestRE.FindStringSubmatch(sel.Sel.Name); m != nil {
				f.rpcCall(sel, svc, m[1], id.Name+"."+sel.Sel.Name)
			}
			return
		}
	}
	if f.seen[sel] {
		return
	}
	if _, isPkg := f.pkgOf(sel.X); isPkg {
		return
	}
	f.method(sel, sel, -1, false, nil)
}

// composite reads &sts.AssumeRoleRequest{...} and CommonRequest literals with an ApiName.
func (f *fileScan) composite(c *ast.CompositeLit) {
	if c.Type == nil {
		return
	}
	f.requestType(c, c.Type)
	if !f.common {
		return
	}
	for _, e := range c.Elts {
		if kv, ok := e.(*ast.KeyValueExpr); ok {
			if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "ApiName" {
				f.commonRequest(c, kv.Value)
			}
		}
	}
}

// requestType records the action of an RPC request struct built directly (t is pkg.XRequest).
func (f *fileScan) requestType(n ast.Node, t ast.Expr) {
	sel, ok := t.(*ast.SelectorExpr)
	if !ok {
		return
	}
	id, ok := sel.X.(*ast.Ident)
	if !ok {
		return
	}
	svc, ok := f.rpc[id.Name]
	if !ok {
		return
	}
	if apiName, ok := strings.CutSuffix(sel.Sel.Name, "Request"); ok && apiName != "" {
		f.rpcCall(n, svc, apiName, id.Name+"."+sel.Sel.Name)
	}
}

func (f *fileScan) rpcCall(n ast.Node, svc, apiName, via string) {
	actions, err := rpcAction(svc, apiName)
	if err != nil {
		f.problem(n, "%s: %v", via, err)
		return
	}
	f.record(n, via+" (services/"+svc+")", actions...)
}

// rpcAction is the RAM actions of one alibaba-cloud-sdk-go API.
func rpcAction(svc, apiName string) ([]string, error) {
	if a, ok := rpcActions[svc+"."+apiName]; ok {
		return a, nil
	}
	if rpcListedOnly[svc] {
		return nil, fmt.Errorf("the RAM action of %s API %s is not known: add it to rpcActions (deploy/tables.go)", svc, apiName)
	}
	code, ok := rpcServices[svc]
	if !ok {
		return nil, fmt.Errorf("service %s has no RAM code", svc)
	}
	return []string{code + ":" + apiName}, nil
}

// commonRequest reads a CommonRequest's ApiName and, from the same function, its Product or Version.
func (f *fileScan) commonRequest(n ast.Node, value ast.Expr) {
	apiName, ok := stringLit(value)
	if !ok {
		f.problem(n, "CommonRequest ApiName is not a string literal: the action cannot be read")
		return
	}
	svcs := commonService(f.fnBody)
	if len(svcs) != 1 {
		f.problem(n, "CommonRequest %s: its service must be set once in the same function with a literal Product or Version (found %d)", apiName, len(svcs))
		return
	}
	for svc := range svcs {
		f.rpcCall(n, svc, apiName, "CommonRequest "+apiName)
	}
}

// commonService finds the services named by literal Product/Version assignments under n.
func commonService(n ast.Node) map[string]bool {
	out := map[string]bool{}
	note := func(field string, v ast.Expr) {
		s, ok := stringLit(v)
		if !ok {
			return
		}
		switch field {
		case "Product":
			if svc, ok := commonProducts[strings.ToLower(s)]; ok {
				out[svc] = true
			} else {
				out["unknown product "+s] = true
			}
		case "Version":
			if svc, ok := commonVersions[s]; ok {
				out[svc] = true
			}
		}
	}
	ast.Inspect(n, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.AssignStmt:
			for i, lhs := range x.Lhs {
				if sel, ok := lhs.(*ast.SelectorExpr); ok && i < len(x.Rhs) {
					note(sel.Sel.Name, x.Rhs[i])
				}
			}
		case *ast.KeyValueExpr:
			if k, ok := x.Key.(*ast.Ident); ok {
				note(k.Name, x.Value)
			}
		}
		return true
	})
	return out
}

func hasAPIName(n ast.Node) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.SelectorExpr:
			if x.Sel.Name == "ApiName" {
				found = true
			}
		case *ast.KeyValueExpr:
			if k, ok := x.Key.(*ast.Ident); ok && k.Name == "ApiName" {
				found = true
			}
		}
		return !found
	})
	return found
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// method resolves x.Name against the SDKs the file imports. nargs < 0 is a method value (no
// call): any signature matches. call is nil for a method value.
func (f *fileScan) method(n ast.Node, sel *ast.SelectorExpr, nargs int, spread bool, call *ast.CallExpr) {
	name := sel.Sel.Name
	var matched []sdkKind
	for _, k := range f.kinds {
		m := f.s.methods[k]
		if m == nil {
			if f.missing == nil {
				f.missing = map[sdkKind]bool{}
			}
			if !f.missing[k] {
				f.missing[k] = true
				f.problem(n, "the %s SDK's method set was not loaded: calls on its values cannot be checked", k)
			}
			continue
		}
		if m.accepts(name, nargs, spread) {
			matched = append(matched, k)
		}
	}
	if len(matched) == 0 {
		return
	}
	if len(matched) > 1 {
		var res []string
		for _, k := range matched {
			e, ok := k.table()[name]
			if !ok || e.generic || len(e.actions) > 0 {
				res = append(res, k.String())
			}
		}
		if len(res) > 1 {
			f.problem(n, "%s is a method of the %s SDKs, all imported here: the call cannot be attributed; move it to a file that imports one of them", name, strings.Join(res, " and "))
			return
		}
	}
	for _, k := range matched {
		e, ok := k.table()[name]
		switch {
		case !ok:
			f.problem(n, "unknown %s SDK method %s: add it with its RAM action(s) to deploy/tables.go (or as local if it sends no request)", k, name)
		case e.generic && call == nil:
			// A method value named Do, Execute, ... is far more often some other type's (a
			// retrier's Do): generic SDK requests are only read where they are called.
		case e.generic && k == kindOSS:
			f.ossGeneric(call, name)
		case e.generic:
			f.problem(n, "generic %s SDK request %s: its action cannot be read from the call; use the typed API method", k, name)
		default:
			via := name
			if call == nil {
				via += " (method value)"
			}
			f.record(n, via, e.actions...)
		}
	}
}

// ossGeneric reads Conn.Do(method, bucket, object, params, ...), Conn.DoWithContext(ctx, method,
// bucket, object, params, ...) and Bucket.Do(method, object, params, ...).
func (f *fileScan) ossGeneric(c *ast.CallExpr, name string) {
	var mi, oi, pi int
	recv := "Conn"
	switch {
	case name == "Do" && len(c.Args) == 8:
		mi, oi, pi = 0, 2, 3
	case name == "DoWithContext" && len(c.Args) == 9:
		mi, oi, pi = 1, 3, 4
	case name == "Do" && len(c.Args) == 6:
		mi, oi, pi, recv = 0, 1, 2, "Bucket"
	default:
		f.problem(c, "OSS %s with %d arguments matches no SDK signature the scanner reads", name, len(c.Args))
		return
	}
	method, ok := f.httpMethod(c.Args[mi])
	if !ok {
		f.problem(c, "OSS %s.%s: the HTTP method is not a literal or an http.Method* constant", recv, name)
		return
	}
	object, ok := stringLit(c.Args[oi])
	if !ok || object != "" {
		f.problem(c, "OSS %s.%s on an object: generic object requests are not in the scanner's table", recv, name)
		return
	}
	subs, ok := paramKeys(c.Args[pi])
	if !ok {
		f.problem(c, "OSS %s.%s: the parameters are not a map literal with string keys: the sub-resource cannot be read", recv, name)
		return
	}
	var actions, known []string
	for _, s := range subs {
		if a, ok := ossGeneric[method+" ?"+s]; ok {
			actions, known = append(actions, a), append(known, s)
		}
	}
	if len(actions) != 1 {
		f.problem(c, "OSS %s.%s %s with parameters %v: no single known sub-resource (deploy/tables.go ossGeneric)", recv, name, method, subs)
		return
	}
	f.record(c, fmt.Sprintf("%s.%s %s ?%s", recv, name, method, known[0]), actions...)
}

func (f *fileScan) httpMethod(e ast.Expr) (string, bool) {
	if s, ok := stringLit(e); ok {
		return strings.ToUpper(s), true
	}
	if sel, ok := e.(*ast.SelectorExpr); ok && f.httpName != "" {
		if id, ok := sel.X.(*ast.Ident); ok && id.Name == f.httpName {
			if m, ok := strings.CutPrefix(sel.Sel.Name, "Method"); ok && m != "" {
				return strings.ToUpper(m), true
			}
		}
	}
	return "", false
}

// paramKeys reads the keys of a map literal (nil: no parameters).
func paramKeys(e ast.Expr) ([]string, bool) {
	if id, ok := e.(*ast.Ident); ok && id.Name == "nil" {
		return nil, true
	}
	lit, ok := e.(*ast.CompositeLit)
	if !ok {
		return nil, false
	}
	if _, ok := lit.Type.(*ast.MapType); !ok {
		return nil, false
	}
	var keys []string
	for _, el := range lit.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			return nil, false
		}
		k, ok := stringLit(kv.Key)
		if !ok {
			return nil, false
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, true
}

// Sig is one signature of an SDK method: how many parameters it declares and whether the last
// is variadic.
type Sig struct {
	Params   int
	Variadic bool
}

// anySig matches any call (generic methods known only by name).
var anySig = Sig{Params: -1}

// Methods maps an SDK method name to its signatures (one per API type declaring it).
type Methods map[string][]Sig

// Add merges o into m.
func (m Methods) Add(o Methods) {
	for k, v := range o {
		m[k] = append(m[k], v...)
	}
}

// accepts reports whether a call of name with nargs arguments (nargs < 0: a method value) can
// be a call of an SDK method: a call whose arity fits no SDK signature cannot compile against
// the SDK, so it is some other type's method of the same name.
func (m Methods) accepts(name string, nargs int, spread bool) bool {
	for _, s := range m[name] {
		switch {
		case s.Params < 0, nargs < 0:
			return true
		case spread:
			if s.Variadic && nargs == s.Params {
				return true
			}
		case nargs == s.Params, s.Variadic && nargs >= s.Params-1:
			return true
		}
	}
	return false
}

// LoadMethods parses the Go package in dir (non-test files) and returns the exported methods
// declared on the named types: methods of concrete types and the method lists of interfaces.
// Every named type must be found, so a renamed SDK type fails loudly.
func LoadMethods(dir string, types ...string) (Methods, error) {
	want := map[string]bool{}
	for _, t := range types {
		want[t] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	out := Methods{}
	found := map[string]bool{}
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil || !d.Name.IsExported() {
					continue
				}
				recv := funcName(d)
				t, _, _ := strings.Cut(recv, ".")
				if want[t] {
					found[t] = true
					out[d.Name.Name] = append(out[d.Name.Name], sigOf(d.Type))
				}
			case *ast.GenDecl:
				for _, sp := range d.Specs {
					ts, ok := sp.(*ast.TypeSpec)
					if !ok || !want[ts.Name.Name] {
						continue
					}
					found[ts.Name.Name] = true
					it, ok := ts.Type.(*ast.InterfaceType)
					if !ok {
						continue
					}
					for _, m := range it.Methods.List {
						ft, ok := m.Type.(*ast.FuncType)
						if !ok {
							continue
						}
						for _, name := range m.Names {
							if name.IsExported() {
								out[name.Name] = append(out[name.Name], sigOf(ft))
							}
						}
					}
				}
			}
		}
	}
	var missing []string
	for _, t := range types {
		if !found[t] {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: types %s not found (package %s)", dir, strings.Join(missing, ", "), path.Base(dir))
	}
	if len(out) == 0 {
		return nil, errors.New(dir + ": no exported methods found")
	}
	return out, nil
}

func sigOf(ft *ast.FuncType) Sig {
	var s Sig
	if ft.Params == nil {
		return s
	}
	for i, p := range ft.Params.List {
		n := len(p.Names)
		if n == 0 {
			n = 1
		}
		s.Params += n
		if _, ok := p.Type.(*ast.Ellipsis); ok && i == len(ft.Params.List)-1 {
			s.Variadic = true
		}
	}
	return s
}
