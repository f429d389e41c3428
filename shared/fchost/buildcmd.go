package fchost

import (
	"errors"
	"fmt"
	"strings"
)

// go build flags that take a value as the next word (when not written -flag=value).
var buildValueFlags = map[string]bool{
	"o": true, "p": true, "C": true, "tags": true, "ldflags": true, "gcflags": true, "asmflags": true,
	"gccgoflags": true, "mod": true, "modfile": true, "pkgdir": true, "buildmode": true, "compiler": true,
	"installsuffix": true, "overlay": true, "pgo": true, "toolexec": true, "covermode": true, "coverpkg": true,
	"buildvcs": false, "race": false, "msan": false, "asan": false, "trimpath": false, "a": false, "n": false,
	"v": false, "x": false, "work": false, "linkshared": false, "cover": false,
}

// Flags worth keeping when building for the local machine; GOOS/GOARCH and the output path are not.
var keptBuildFlags = map[string]bool{"tags": true, "ldflags": true, "trimpath": true, "mod": true}

// ParseBuildCommand reads a pre-deploy run line such as
// `GOOS=linux GOARCH=amd64 CGO_ENABLED=0 go build -o target/x/main ./functions/x` and returns what to
// build locally: the targets (packages or files) and the flags worth keeping. It returns nil, nil
// when the line has no go build. Commands may be chained with &&, ||, ; or newlines.
func ParseBuildCommand(run string) (*BuildSpec, error) {
	cmds, err := shellCommands(run)
	if err != nil {
		return nil, err
	}
	for _, words := range cmds {
		words = stripAssignments(words)
		if len(words) < 2 || words[0] != "go" || words[1] != "build" {
			continue
		}
		b := &BuildSpec{Run: run}
		args := words[2:]
		for i := 0; i < len(args); i++ {
			a := args[i]
			if a == "--" {
				b.Targets = append(b.Targets, args[i+1:]...)
				break
			}
			if !strings.HasPrefix(a, "-") || a == "-" {
				b.Targets = append(b.Targets, a)
				continue
			}
			name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
			takesValue, known := buildValueFlags[name]
			if !known {
				return nil, fmt.Errorf("go build flag %s is not one fchost understands", a)
			}
			if takesValue && !hasValue {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("go build flag %s needs a value", a)
				}
				i++
				value, hasValue = args[i], true
			}
			if keptBuildFlags[name] {
				if hasValue {
					b.Flags = append(b.Flags, "-"+name+"="+value)
				} else {
					b.Flags = append(b.Flags, "-"+name)
				}
			}
		}
		if len(b.Targets) == 0 {
			b.Targets = []string{"."} // go build with no package builds the current directory
		}
		return b, nil
	}
	return nil, nil
}

// buildOutput is the -o value of the run line's go build, or "".
func buildOutput(run string) string {
	cmds, err := shellCommands(run)
	if err != nil {
		return ""
	}
	for _, words := range cmds {
		words = stripAssignments(words)
		if len(words) < 2 || words[0] != "go" || words[1] != "build" {
			continue
		}
		for i, a := range words {
			if a == "-o" || a == "--o" {
				if i+1 < len(words) {
					return words[i+1]
				}
			}
			if v, ok := strings.CutPrefix(a, "-o="); ok {
				return v
			}
		}
	}
	return ""
}

func stripAssignments(words []string) []string {
	for len(words) > 0 {
		k, _, ok := strings.Cut(words[0], "=")
		if !ok || k == "" || !envKeyRE.MatchString(k) {
			break
		}
		words = words[1:]
	}
	return words
}

// shellCommands splits a POSIX-ish command line into commands of words: quotes and backslashes are
// honoured, unquoted &&, ||, ;, |, & and newlines end a command. Expansions ($X) are left as written.
func shellCommands(s string) ([][]string, error) {
	var cmds [][]string
	var words []string
	var cur strings.Builder
	inWord := false
	flushWord := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	flushCmd := func() {
		flushWord()
		if len(words) > 0 {
			cmds = append(cmds, words)
			words = nil
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case c == '"':
			inWord = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated double quote")
			}
		case c == '\\':
			if i+1 < len(s) {
				i++
				if s[i] != '\n' { // a backslash-newline continues the line
					cur.WriteByte(s[i])
					inWord = true
				}
			}
		case c == ' ' || c == '\t' || c == '\r':
			flushWord()
		case c == '\n' || c == ';' || c == '&' || c == '|':
			flushCmd()
		case c == '#' && !inWord:
			for i < len(s) && s[i] != '\n' {
				i++
			}
			flushCmd()
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flushCmd()
	return cmds, nil
}
