package spec

import (
	"fmt"
	"slices"
	"strings"
)

// routeSet is what a Traefik router rule matches, as berth can route it:
// every host of Hosts with every path prefix of Paths ("/" alone: every
// path).
type routeSet struct {
	Hosts []string
	Paths []string
}

// matcher is one alternative of a rule in disjunctive form: the hosts it
// matches (nil: any host) and the path prefixes (nil: any path).
type matcher struct {
	hosts []string
	paths []string
}

// parseTraefikRule reads the subset of Traefik's (v2 and v3) router rule
// grammar that maps onto berth's routes: Host(`a`, ...) and
// PathPrefix(`/p`, ...) joined with && and ||, in parentheses as needed,
// e.g. "Host(`a`) || Host(`b`)" or "Host(`a`) && PathPrefix(`/api`)".
// Anything else (HostRegexp, Path, Headers, negation, a rule matching any
// host, host and path combinations that are not every host with every
// path) is an error saying what berth cannot import.
func parseTraefikRule(rule string) (routeSet, error) {
	toks, err := lexRule(rule)
	if err != nil {
		return routeSet{}, err
	}
	p := &ruleParser{toks: toks}
	alts, err := p.or()
	if err != nil {
		return routeSet{}, err
	}
	if p.pos < len(p.toks) {
		return routeSet{}, fmt.Errorf("unexpected %q", p.toks[p.pos].text)
	}
	return flatten(alts)
}

type ruleToken struct {
	kind byte // 'i' identifier, 's' string, or the operator's first byte: ( ) , & | !
	text string
}

func lexRule(s string) ([]ruleToken, error) {
	var toks []ruleToken
	for i := 0; i < len(s); {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r':
			i++
		case ch == '(' || ch == ')' || ch == ',' || ch == '!':
			toks = append(toks, ruleToken{ch, string(ch)})
			i++
		case ch == '&' || ch == '|':
			if i+1 >= len(s) || s[i+1] != ch {
				return nil, fmt.Errorf("%q must be doubled (%c%c)", string(ch), ch, ch)
			}
			toks = append(toks, ruleToken{ch, s[i : i+2]})
			i += 2
		case ch == '`' || ch == '"' || ch == '\'':
			end := strings.IndexByte(s[i+1:], ch)
			if end < 0 {
				return nil, fmt.Errorf("unterminated string %s", s[i:])
			}
			toks = append(toks, ruleToken{'s', s[i+1 : i+1+end]})
			i += end + 2
		case ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z':
			j := i
			for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == '-' || s[j] == '_') {
				j++
			}
			toks = append(toks, ruleToken{'i', s[i:j]})
			i = j
		default:
			return nil, fmt.Errorf("unexpected %q", string(ch))
		}
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("the rule is empty")
	}
	return toks, nil
}

type ruleParser struct {
	toks []ruleToken
	pos  int
}

func (p *ruleParser) peek() byte {
	if p.pos < len(p.toks) {
		return p.toks[p.pos].kind
	}
	return 0
}

// or: and ("||" and)*
func (p *ruleParser) or() ([]matcher, error) {
	alts, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek() == '|' {
		p.pos++
		more, err := p.and()
		if err != nil {
			return nil, err
		}
		alts = append(alts, more...)
	}
	return alts, nil
}

// maxAlternatives bounds the disjunctive form of one rule, which && of
// ||-groups multiplies.
const maxAlternatives = 256

// and: term ("&&" term)*
func (p *ruleParser) and() ([]matcher, error) {
	alts, err := p.term()
	if err != nil {
		return nil, err
	}
	for p.peek() == '&' {
		p.pos++
		right, err := p.term()
		if err != nil {
			return nil, err
		}
		if len(alts)*len(right) > maxAlternatives {
			return nil, fmt.Errorf("the rule has more than %d host and path combinations", maxAlternatives)
		}
		var out []matcher
		for _, a := range alts {
			for _, b := range right {
				m, err := both(a, b)
				if err != nil {
					return nil, err
				}
				out = append(out, m)
			}
		}
		alts = out
	}
	return alts, nil
}

// both is a && b.
func both(a, b matcher) (matcher, error) {
	if a.hosts != nil && b.hosts != nil {
		return matcher{}, fmt.Errorf("Host(...) && Host(...) matches no request berth can route")
	}
	if a.paths != nil && b.paths != nil {
		return matcher{}, fmt.Errorf("PathPrefix(...) && PathPrefix(...) is not a path prefix berth can route")
	}
	return matcher{hosts: cmpOr(a.hosts, b.hosts), paths: cmpOr(a.paths, b.paths)}, nil
}

func cmpOr(a, b []string) []string {
	if a != nil {
		return a
	}
	return b
}

// term: "(" or ")" | Matcher "(" string ("," string)* ")"
func (p *ruleParser) term() ([]matcher, error) {
	if p.pos >= len(p.toks) {
		return nil, fmt.Errorf("the rule ends too early")
	}
	t := p.toks[p.pos]
	switch t.kind {
	case '(':
		p.pos++
		alts, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ')' {
			return nil, fmt.Errorf("missing )")
		}
		p.pos++
		return alts, nil
	case '!':
		return nil, fmt.Errorf("negation (!) is not supported")
	case 'i':
	default:
		return nil, fmt.Errorf("unexpected %q", t.text)
	}
	p.pos++
	if p.peek() != '(' {
		return nil, fmt.Errorf("%s must be followed by (", t.text)
	}
	p.pos++
	var args []string
	for {
		if p.peek() != 's' {
			return nil, fmt.Errorf("%s(...) takes quoted values such as `example.com`", t.text)
		}
		args = append(args, p.toks[p.pos].text)
		p.pos++
		if p.peek() == ',' {
			p.pos++
			continue
		}
		if p.peek() != ')' {
			return nil, fmt.Errorf("missing ) after the values of %s", t.text)
		}
		p.pos++
		break
	}
	switch t.text {
	case "Host":
		hosts := make([]string, 0, len(args))
		for _, h := range args {
			h = strings.ToLower(strings.TrimSpace(h))
			if msg := checkHost(h); msg != "" {
				return nil, fmt.Errorf("Host: %s", msg)
			}
			hosts = append(hosts, h)
		}
		return []matcher{{hosts: hosts}}, nil
	case "PathPrefix":
		for _, pp := range args {
			if msg := checkPathPrefix(pp); msg != "" {
				return nil, fmt.Errorf("PathPrefix: %s", msg)
			}
		}
		return []matcher{{paths: args}}, nil
	}
	return nil, fmt.Errorf("the matcher %s is not supported (berth imports Host and PathPrefix)", t.text)
}

// flatten turns the alternatives into one routeSet, when they match
// exactly every host of the union with every path of the union.
func flatten(alts []matcher) (routeSet, error) {
	var rs routeSet
	pairs := map[[2]string]bool{}
	for _, a := range alts {
		if a.hosts == nil {
			return routeSet{}, fmt.Errorf("a part of the rule matches any host; berth routes by host name (add Host(...))")
		}
		paths := a.paths
		if paths == nil {
			paths = []string{"/"}
		}
		for _, h := range a.hosts {
			if !slices.Contains(rs.Hosts, h) {
				rs.Hosts = append(rs.Hosts, h)
			}
			for _, p := range paths {
				p = NormalizePath(p)
				if !slices.Contains(rs.Paths, p) {
					rs.Paths = append(rs.Paths, p)
				}
				pairs[[2]string{h, p}] = true
			}
		}
	}
	if len(pairs) != len(rs.Hosts)*len(rs.Paths) {
		return routeSet{}, fmt.Errorf("its hosts do not all take the same path prefixes; berth gives a service one list of hosts and one of paths")
	}
	return rs, nil
}
