package fchost

// The YAML node machinery behind ParseConfig: merge keys, ${...} substitution and typed field
// readers that name the field and the rule when a value does not fit.

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

type parser struct {
	opts     ParseOptions
	dir      string
	vars     *yaml.Node
	warnings []string
	budget   int // nodes that alias expansion may still visit
}

// maxExpandedNodes bounds alias and merge-key expansion; a real s.yaml needs a few hundred.
const maxExpandedNodes = 100000

type entry struct {
	key  *yaml.Node
	node *yaml.Node
}

func fieldErr(path string, n *yaml.Node, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if n != nil && n.Line > 0 {
		return fmt.Errorf("s.yaml: %s (line %d): %s", path, n.Line, msg)
	}
	return fmt.Errorf("s.yaml: %s: %s", path, msg)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sortedKeys(m map[string]entry) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// resolve follows aliases (bounded: an alias may point at an ancestor).
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

// entries reads a mapping into key -> value, applying merge keys (<<) with explicit keys winning.
func (p *parser) entries(n *yaml.Node, path string) (map[string]entry, error) {
	out := map[string]entry{}
	if err := p.mergeInto(out, n, path, 0); err != nil {
		return nil, err
	}
	return out, nil
}

func (p *parser) mergeInto(out map[string]entry, n *yaml.Node, path string, depth int) error {
	n = resolve(n)
	if n != nil {
		p.budget -= 1 + len(n.Content)/2
	}
	if n == nil || depth > 8 || p.budget < 0 {
		return fieldErr(path, nil, "merge keys and aliases nest too deep, loop or expand too much")
	}
	if n.Kind != yaml.MappingNode {
		return fieldErr(path, n, "must be a mapping")
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return fieldErr(path, k, "keys must be plain strings")
		}
		if k.Tag == "!!merge" || (k.Value == "<<" && k.Style == 0 && k.Tag != "!!str") {
			merges = append(merges, v)
			continue
		}
		if _, dup := out[k.Value]; dup && depth == 0 {
			return fieldErr(join(path, k.Value), k, "appears twice")
		}
		if _, set := out[k.Value]; !set {
			out[k.Value] = entry{key: k, node: v}
		}
	}
	for _, m := range merges {
		m = resolve(m)
		if m == nil {
			return fieldErr(path, nil, "merge key: alias loops")
		}
		srcs := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			srcs = m.Content
		}
		for _, s := range srcs {
			if err := p.mergeInto(out, s, path, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// substitute replaces ${...} expressions in every scalar under n, in place (so aliases see the result).
// A scalar that is exactly one ${vars.x} takes the variable's node (keeping numbers numbers).
func (p *parser) substitute(n *yaml.Node, path string, allowVars bool) error {
	return p.walk(n, path, allowVars, 0)
}

func (p *parser) walk(n *yaml.Node, path string, allowVars bool, depth int) error {
	if n == nil || depth > 64 {
		return fieldErr(path, nil, "nests too deep")
	}
	switch n.Kind {
	case yaml.AliasNode:
		return nil // the anchor is substituted where it is defined
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := p.walk(n.Content[i+1], join(path, n.Content[i].Value), allowVars, depth+1); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if err := p.walk(c, fmt.Sprintf("%s[%d]", path, i), allowVars, depth+1); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return nil
		}
		locs := exprRE.FindAllStringSubmatchIndex(n.Value, -1)
		if len(locs) == 1 && locs[0][0] == 0 && locs[0][1] == len(n.Value) {
			expr := strings.TrimSpace(n.Value[locs[0][2]:locs[0][3]])
			if strings.HasPrefix(expr, "vars.") && allowVars {
				v, err := p.lookupVar(expr, path, n)
				if err != nil {
					return err
				}
				line, col := n.Line, n.Column
				c, ok := p.deepCopy(v, 0)
				if !ok {
					return fieldErr(path, n, "${%s}: the value nests or expands too much", expr)
				}
				*n = *c
				n.Line, n.Column = line, col
				return nil
			}
		}
		var firstErr error
		out := exprRE.ReplaceAllStringFunc(n.Value, func(m string) string {
			if firstErr != nil {
				return m
			}
			v, err := p.expand(strings.TrimSpace(m[2:len(m)-1]), path, n, allowVars)
			if err != nil {
				firstErr = err
			}
			return v
		})
		if firstErr != nil {
			return firstErr
		}
		n.Value = out
		n.Tag = "!!str"
		n.Style = yaml.DoubleQuotedStyle
	}
	return nil
}

// deepCopy copies a variable's value, aliases expanded, within the parser's node budget (a
// "billion laughs" document must fail, not exhaust memory).
func (p *parser) deepCopy(n *yaml.Node, depth int) (*yaml.Node, bool) {
	p.budget--
	if n == nil || depth > 64 || p.budget < 0 {
		return nil, false
	}
	if n.Kind == yaml.AliasNode {
		return p.deepCopy(resolve(n), depth+1)
	}
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, x := range n.Content {
		var ok bool
		if c.Content[i], ok = p.deepCopy(x, depth+1); !ok {
			return nil, false
		}
	}
	c.Anchor = ""
	return &c, true
}

func (p *parser) lookupVar(expr, path string, at *yaml.Node) (*yaml.Node, error) {
	name := strings.TrimPrefix(expr, "vars.")
	if !varPathRE.MatchString(name) {
		return nil, fieldErr(path, at, "${%s}: a variable reference is vars.<name>[.<key>...]", expr)
	}
	if p.vars == nil {
		return nil, fieldErr(path, at, "${%s}: the file has no vars", expr)
	}
	cur := p.vars
	for _, part := range strings.Split(name, ".") {
		cur = resolve(cur)
		if cur == nil || cur.Kind != yaml.MappingNode {
			return nil, fieldErr(path, at, "${%s}: vars has no %q", expr, name)
		}
		var next *yaml.Node
		for i := 0; i+1 < len(cur.Content); i += 2 {
			if cur.Content[i].Value == part {
				next = cur.Content[i+1]
			}
		}
		if next == nil {
			return nil, fieldErr(path, at, "${%s}: vars has no %q", expr, name)
		}
		cur = next
	}
	if cur = resolve(cur); cur == nil {
		return nil, fieldErr(path, at, "${%s}: alias loops", expr)
	}
	return cur, nil
}

// expand evaluates one expression inside a string.
func (p *parser) expand(expr, path string, at *yaml.Node, allowVars bool) (string, error) {
	switch {
	case strings.HasPrefix(expr, "vars."):
		if !allowVars {
			return "", fieldErr(path, at, "${%s}: vars cannot refer to other vars", expr)
		}
		v, err := p.lookupVar(expr, path, at)
		if err != nil {
			return "", err
		}
		if v.Kind != yaml.ScalarNode {
			return "", fieldErr(path, at, "${%s} is not a scalar and cannot be part of a string", expr)
		}
		return v.Value, nil
	case strings.HasPrefix(expr, "env.") || strings.HasPrefix(expr, "env("):
		name, ok := callArg(expr, "env")
		if !ok || !envKeyRE.MatchString(name) {
			return "", fieldErr(path, at, "${%s}: write ${env('NAME')} or ${env.NAME}", expr)
		}
		v, found := p.opts.LookupEnv(name)
		if !found {
			return "", fieldErr(path, at, "${%s}: environment variable %s is not set", expr, name)
		}
		return v, nil
	case strings.HasPrefix(expr, "config.") || strings.HasPrefix(expr, "config("):
		name, ok := callArg(expr, "config")
		if !ok || name != "AccountID" {
			return "", fieldErr(path, at, "${%s}: fchost knows only ${config('AccountID')}", expr)
		}
		if p.opts.AccountID == "" {
			return "", fieldErr(path, at, "${%s}: no account id given (ParseOptions.AccountID)", expr)
		}
		return p.opts.AccountID, nil
	}
	return "", fieldErr(path, at, "${%s}: fchost resolves only ${vars.x}, ${env('X')} and ${config('AccountID')}", expr)
}

// callArg reads fn('x'), fn("x") or fn.x.
func callArg(expr, fn string) (string, bool) {
	rest := strings.TrimPrefix(expr, fn)
	if strings.HasPrefix(rest, ".") {
		return rest[1:], rest != "."
	}
	if !strings.HasPrefix(rest, "(") || !strings.HasSuffix(rest, ")") {
		return "", false
	}
	arg := strings.TrimSpace(rest[1 : len(rest)-1])
	if len(arg) >= 2 && (arg[0] == '\'' || arg[0] == '"') && arg[len(arg)-1] == arg[0] {
		return arg[1 : len(arg)-1], true
	}
	return "", false
}

// Typed field readers: each names the field and the rule when the value does not fit.

func (p *parser) str(m map[string]entry, key, path string) (string, *yaml.Node, error) {
	e, ok := m[key]
	if !ok {
		return "", nil, nil
	}
	n := resolve(e.node)
	if n == nil {
		return "", nil, fieldErr(join(path, key), e.node, "alias loops")
	}
	if n.Kind != yaml.ScalarNode {
		return "", n, fieldErr(join(path, key), n, "must be a string")
	}
	if n.Tag == "!!null" {
		return "", n, nil
	}
	return n.Value, n, nil
}

func (p *parser) integer(m map[string]entry, key, path string) (*int, error) {
	s, n, err := p.str(m, key, path)
	if err != nil || n == nil || n.Tag == "!!null" {
		if err != nil {
			return nil, fieldErr(join(path, key), n, "must be an integer")
		}
		return nil, nil
	}
	v, perr := strconv.Atoi(strings.TrimSpace(s))
	if perr != nil {
		return nil, fieldErr(join(path, key), n, "must be an integer, got %q", s)
	}
	return &v, nil
}

func (p *parser) boolean(m map[string]entry, key, path string) (*bool, error) {
	s, n, err := p.str(m, key, path)
	if err != nil || n == nil || n.Tag == "!!null" {
		if err != nil {
			return nil, fieldErr(join(path, key), n, "must be true or false")
		}
		return nil, nil
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		v := true
		return &v, nil
	case "false":
		v := false
		return &v, nil
	}
	return nil, fieldErr(join(path, key), n, "must be true or false, got %q", s)
}

func (p *parser) mapping(m map[string]entry, key, path string) (map[string]entry, *yaml.Node, error) {
	e, ok := m[key]
	if !ok {
		return nil, nil, nil
	}
	n := resolve(e.node)
	if n != nil && n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil, nil
	}
	sub, err := p.entries(e.node, join(path, key))
	return sub, n, err
}

func (p *parser) sequence(m map[string]entry, key, path string) ([]*yaml.Node, error) {
	e, ok := m[key]
	if !ok {
		return nil, nil
	}
	n := resolve(e.node)
	if n == nil {
		return nil, fieldErr(join(path, key), e.node, "alias loops")
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, fieldErr(join(path, key), n, "must be a list")
	}
	return n.Content, nil
}
