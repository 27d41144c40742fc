// Package mesh collects the state of a service mesh's proxies and control
// planes as evidence lines: what an engineer reads by hand with
// `istioctl proxy-config`, `pilot-agent request GET stats`, `istioctl
// proxy-status` or `linkerd diagnostics proxy-metrics`, taken straight
// from the admin endpoints through the Kubernetes API's port-forward.
//
// For each pod with a mesh proxy in the selected namespaces (and the
// gateways in the control planes' namespaces) it reads:
//
//   - Envoy (Istio sidecars and gateways, container istio-proxy, admin on
//     127.0.0.1:15000; Envoy Gateway proxies, admin on 127.0.0.1:19000; any
//     pod annotated causeway.dev/envoy-admin-port): /certs, /clusters,
//     /stats, /memory, /server_info and /config_dump;
//   - Linkerd proxies (container linkerd-proxy, admin on 4191): /metrics;
//   - istiod (label app=istiod, debug on 15014): /debug/syncz, the data
//     behind `istioctl proxy-status`;
//
// and the pod status of every control plane component (istiod, Linkerd,
// Envoy Gateway). Nothing is parsed here: each output is handed to
// files.Parse as a mesh-admin source, so a recorded output in a bundle
// reads exactly as a live one. Each output is a snapshot: its lines are at
// the time it was taken, whatever the incident's window.
package mesh

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/collectors/files"
	"github.com/causeway-rca/causeway/collectors/k8s"
)

// Dialer opens a connection to a port of a pod, as if from inside it;
// k8s.PortForwarder is the one that goes through the Kubernetes API.
type Dialer interface {
	DialPod(ctx context.Context, namespace, pod string, port int) (net.Conn, error)
}

// PodLister lists the pods of a namespace; k8s.PodLister is one.
type PodLister interface {
	Pods(ctx context.Context, namespace, selector string) ([]k8s.Pod, error)
}

// Defaults of Config's bounds.
const (
	DefaultMaxPods        = 20
	DefaultMaxBytes       = 64 << 20
	DefaultRequestTimeout = 30 * time.Second
	DefaultTimeout        = 5 * time.Minute
	DefaultParallel       = 4
)

// DefaultControlPlanes are the namespaces where Istio, Linkerd and Envoy
// Gateway install their control planes and gateways.
var DefaultControlPlanes = []string{"istio-system", "linkerd", "envoy-gateway-system"}

// Ports of the admin endpoints, as the meshes set them up.
const (
	IstioAdminPort        = 15000 // Envoy admin in istio-proxy
	EnvoyGatewayAdminPort = 19000 // Envoy admin in Envoy Gateway's proxies
	LinkerdAdminPort      = 4191  // linkerd-proxy admin (/metrics)
	IstiodDebugPort       = 15014 // istiod monitoring and debug
)

// AnnotationAdminPort names the Envoy admin port of a pod that is neither
// an Istio nor an Envoy Gateway proxy (Contour, a plain Envoy).
const AnnotationAdminPort = "causeway.dev/envoy-admin-port"

// EnvoyEndpoints are the Envoy admin requests made, in order.
var EnvoyEndpoints = []string{"/server_info", "/memory", "/certs", "/clusters", "/stats", "/config_dump"}

// Config says what to read and how much of it.
type Config struct {
	// Namespaces are searched for pods with a mesh proxy.
	Namespaces []string
	// Selector narrows the pods of Namespaces ("app=checkout-api").
	Selector string
	// Pods are read as well, as "namespace/name".
	Pods []string
	// ControlPlanes are searched for control plane components (istiod,
	// Linkerd, Envoy Gateway) and gateways; nil means
	// DefaultControlPlanes, empty means none.
	ControlPlanes []string
	// MaxPods bounds the proxies read: gateways first, then pods that are
	// not ready or restarted, then the rest by name.
	MaxPods int
	// Endpoints, when set, limits the Envoy admin requests to these
	// (from EnvoyEndpoints).
	Endpoints []string
	// MaxBytes bounds one response; a longer one is cut, and the source
	// says so.
	MaxBytes int64
	// RequestTimeout bounds one request, Timeout the whole collection.
	RequestTimeout time.Duration
	Timeout        time.Duration
	// Parallel is how many pods are read at once.
	Parallel int
	Logger   *slog.Logger
	// Now stamps each output with the time it was taken.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.ControlPlanes == nil {
		c.ControlPlanes = DefaultControlPlanes
	}
	if c.MaxPods <= 0 {
		c.MaxPods = DefaultMaxPods
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Parallel <= 0 {
		c.Parallel = DefaultParallel
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if len(c.Endpoints) == 0 {
		c.Endpoints = EnvoyEndpoints
	}
	return c
}

// Collector reads mesh state from one cluster.
type Collector struct {
	cfg  Config
	pods PodLister
	dial Dialer
}

var _ causeway.Collector = (*Collector)(nil)

// New returns a collector that finds pods with pods and reaches them with
// dial; neither may be nil.
func New(pods PodLister, dial Dialer, cfg Config) *Collector {
	return &Collector{cfg: cfg.withDefaults(), pods: pods, dial: dial}
}

// proxyKind is what kind of mesh component a target is.
type proxyKind string

const (
	kindIstio        proxyKind = "istio-proxy"
	kindEnvoyGateway proxyKind = "envoy-gateway-proxy"
	kindEnvoy        proxyKind = "envoy"
	kindLinkerd      proxyKind = "linkerd-proxy"
	kindIstiod       proxyKind = "istiod"
)

// target is one pod to read and how.
type target struct {
	pod       k8s.Pod
	kind      proxyKind
	container string
	port      int
	gateway   bool
}

// requests are the admin requests made of a target.
func (t target) requests(envoy []string) []string {
	switch t.kind {
	case kindLinkerd:
		return []string{"/metrics"}
	case kindIstiod:
		return []string{"/debug/syncz"}
	}
	return envoy
}

// run is one collection.
type run struct {
	c    *Collector
	inc  *causeway.Incident
	sink causeway.LineSink
	ctx  context.Context // bounded by Config.Timeout; fetches use it
	mu   sync.Mutex      // serializes the sink
	http *http.Client
}

// Collect implements causeway.Collector. Every pod, list or request that
// fails is recorded as its source's error; Collect fails only when the
// sink does or ctx ends.
func (c *Collector) Collect(ctx context.Context, inc *causeway.Incident, sink causeway.LineSink) error {
	fetchCtx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	r := &run{c: c, inc: inc, sink: sink, ctx: fetchCtx}
	transport := &http.Transport{
		DialContext:         r.dialPod,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     30 * time.Second,
	}
	defer transport.CloseIdleConnections()
	r.http = &http.Client{Transport: transport, Timeout: c.cfg.RequestTimeout}

	targets, control, problems := r.find()
	if err := ctx.Err(); err != nil {
		return err
	}
	for ns, pods := range control {
		if err := r.controlPods(ctx, ns, pods); err != nil {
			return err
		}
	}
	slices.SortFunc(targets, byPriority)
	var skipped []string
	if len(targets) > c.cfg.MaxPods {
		for _, t := range targets[c.cfg.MaxPods:] {
			skipped = append(skipped, t.pod.Namespace+"/"+t.pod.Name)
		}
		targets = targets[:c.cfg.MaxPods]
		problems = append(problems, fmt.Sprintf("%d pods with a mesh proxy not read (limit %d): %s",
			len(skipped), c.cfg.MaxPods, strings.Join(skipped[:min(len(skipped), 20)], ", ")))
	}
	if len(targets) == 0 && len(control) == 0 {
		problems = append(problems, fmt.Sprintf("no pod with a mesh proxy or control plane found in %s",
			strings.Join(append(slices.Clone(c.cfg.Namespaces), c.cfg.ControlPlanes...), ", ")))
	}
	if len(problems) > 0 {
		src := &causeway.Source{Name: "mesh", Kind: files.KindMeshAdmin, Error: strings.Join(problems, "; ")}
		c.cfg.Logger.Warn("mesh collection incomplete", "problems", problems)
		if err := r.write(ctx, src, nil); err != nil {
			return err
		}
	}

	work := make(chan target)
	errc := make(chan error, c.cfg.Parallel)
	var wg sync.WaitGroup
	for range min(c.cfg.Parallel, max(len(targets), 1)) {
		wg.Go(func() {
			for t := range work {
				if err := r.read(ctx, t); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	var err error
feed:
	for _, t := range targets {
		select {
		case work <- t:
		case err = <-errc:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(work)
	wg.Wait()
	close(errc)
	if err == nil {
		err = <-errc
	}
	if err == nil {
		err = ctx.Err()
	}
	return err
}

// byPriority orders targets as they are worth reading: istiod, gateways,
// pods that are not ready or restarted, then by name.
func byPriority(a, b target) int {
	rank := func(t target) int {
		r := 0
		if t.kind == kindIstiod {
			r -= 8
		}
		if t.gateway {
			r -= 4
		}
		if !t.pod.Ready {
			r -= 2
		}
		for _, c := range t.pod.Containers {
			if c.Restarts > 0 {
				r--
				break
			}
		}
		return r
	}
	return cmp.Or(cmp.Compare(rank(a), rank(b)), strings.Compare(a.pod.Namespace, b.pod.Namespace), strings.Compare(a.pod.Name, b.pod.Name))
}

// find lists the pods to read, and the control plane pods by namespace.
func (r *run) find() (targets []target, control map[string][]k8s.Pod, problems []string) {
	cfg := r.c.cfg
	control = map[string][]k8s.Pod{}
	seen := map[string]bool{}
	add := func(p k8s.Pod, controlPlane bool) {
		key := p.Namespace + "/" + p.Name
		if seen[key] {
			return
		}
		seen[key] = true
		if isControlPlane(p) {
			control[p.Namespace] = append(control[p.Namespace], p)
		}
		if t, ok := classify(p); ok && (!controlPlane || t.gateway || t.kind == kindIstiod) {
			targets = append(targets, t)
		}
	}
	list := func(ns, selector string) []k8s.Pod {
		pods, err := r.c.pods.Pods(r.ctx, ns, selector)
		if err != nil {
			problems = append(problems, err.Error())
		}
		return pods
	}
	for _, ns := range cfg.Namespaces {
		for _, p := range list(ns, cfg.Selector) {
			add(p, false)
		}
	}
	for _, ref := range cfg.Pods {
		ns, name, ok := strings.Cut(ref, "/")
		if !ok || ns == "" || name == "" {
			problems = append(problems, fmt.Sprintf("pod %q is not namespace/name", ref))
			continue
		}
		found := false
		for _, p := range list(ns, "") {
			if p.Name == name {
				found = true
				add(p, false)
			}
		}
		if !found {
			problems = append(problems, fmt.Sprintf("pod %s not found", ref))
		}
	}
	for _, ns := range cfg.ControlPlanes {
		if slices.Contains(cfg.Namespaces, ns) {
			continue
		}
		for _, p := range list(ns, "") {
			add(p, true)
		}
	}
	return targets, control, problems
}

// classify says whether a pod has a mesh component to read, and how.
func classify(p k8s.Pod) (target, bool) {
	t := target{pod: p}
	if p.Phase != "" && p.Phase != "Running" {
		return t, false
	}
	has := func(name string) (k8s.PodContainer, bool) {
		for _, c := range p.Containers {
			if c.Name == name {
				return c, true
			}
		}
		return k8s.PodContainer{}, false
	}
	if port, err := strconv.Atoi(p.Annotations[AnnotationAdminPort]); err == nil && port > 0 {
		t.kind, t.port, t.container = kindEnvoy, port, firstContainer(p)
		return t, true
	}
	switch {
	case p.Labels["app"] == "istiod":
		if c, ok := has("discovery"); ok {
			t.container = c.Name
		}
		t.kind, t.port = kindIstiod, IstiodDebugPort
		return t, true
	case p.Labels["gateway.envoyproxy.io/owning-gateway-name"] != "":
		t.kind, t.port, t.container, t.gateway = kindEnvoyGateway, EnvoyGatewayAdminPort, "envoy", true
		return t, true
	}
	if _, ok := has("istio-proxy"); ok {
		t.kind, t.port, t.container = kindIstio, IstioAdminPort, "istio-proxy"
		// A gateway's Envoy is the pod's only container; a sidecar has an
		// application beside it.
		t.gateway = len(p.Containers) == 1 || p.Labels["istio"] == "ingressgateway" || p.Labels["istio"] == "egressgateway"
		return t, true
	}
	if _, ok := has("linkerd-proxy"); ok {
		t.kind, t.port, t.container = kindLinkerd, LinkerdAdminPort, "linkerd-proxy"
		return t, true
	}
	return t, false
}

func firstContainer(p k8s.Pod) string {
	if len(p.Containers) > 0 {
		return p.Containers[0].Name
	}
	return ""
}

// isControlPlane reports whether a pod is a component of a mesh's
// control plane, whose state is collected as pod status lines.
func isControlPlane(p k8s.Pod) bool {
	l := p.Labels
	return l["app"] == "istiod" || l["linkerd.io/control-plane-component"] != "" ||
		l["control-plane"] == "envoy-gateway" || l["app.kubernetes.io/name"] == "gateway-helm" ||
		l["app.kubernetes.io/name"] == "envoy-gateway"
}

// controlPods writes the status of a namespace's control plane pods,
// through the same parser as `kubectl get pods -o json`.
func (r *run) controlPods(ctx context.Context, ns string, pods []k8s.Pod) error {
	slices.SortFunc(pods, func(a, b k8s.Pod) int { return strings.Compare(a.Name, b.Name) })
	items := make([]json.RawMessage, len(pods))
	for i, p := range pods {
		items[i] = p.JSON
	}
	data, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	if err != nil {
		return r.write(ctx, &causeway.Source{Name: "mesh/" + ns + "/control-plane-pods.json", Kind: causeway.KindObjects,
			Error: "serialize pods: " + err.Error()}, nil)
	}
	src := &causeway.Source{Name: "mesh/" + ns + "/control-plane-pods.json", Kind: causeway.KindObjects,
		Labels: map[string]string{"namespace": ns}}
	return r.parse(ctx, src, data, nil)
}

// read makes a target's admin requests, one source each.
func (r *run) read(ctx context.Context, t target) error {
	for _, req := range t.requests(r.c.cfg.Endpoints) {
		at := r.c.cfg.Now().UTC()
		labels := map[string]string{"namespace": t.pod.Namespace, "pod": t.pod.Name, files.LabelAt: at.Format(time.RFC3339Nano)}
		if t.container != "" {
			labels["container"] = t.container
		}
		if t.pod.Node != "" {
			labels["node"] = t.pod.Node
		}
		for _, c := range t.pod.Containers {
			if c.Name == t.container && c.MemoryLimit != "" {
				labels[files.LabelMemoryLimit] = c.MemoryLimit
			}
		}
		path, _, _ := strings.Cut(req, "?")
		src := &causeway.Source{Name: "mesh/" + t.pod.Namespace + "/" + t.pod.Name + path, Kind: files.KindMeshAdmin,
			Labels: labels, Query: fmt.Sprintf("GET :%d%s", t.port, req)}
		if r.ctx.Err() != nil && ctx.Err() == nil {
			src.Error = fmt.Sprintf("time limit (%s) reached before this request", r.c.cfg.Timeout)
			if err := r.write(ctx, src, nil); err != nil {
				return err
			}
			continue
		}
		body, fetchErr := r.get(t, req)
		var de *dialError
		if errors.As(fetchErr, &de) {
			// A port that cannot be reached fails every request alike:
			// one source says so for the pod.
			pod := &causeway.Source{Name: "mesh/" + t.pod.Namespace + "/" + t.pod.Name, Kind: files.KindMeshAdmin, Labels: labels,
				Query: fmt.Sprintf("GET :%d", t.port), Error: fmt.Sprintf("cannot reach the %s admin port %d: %v", t.kind, t.port, de.err)}
			delete(pod.Labels, files.LabelAt)
			r.c.cfg.Logger.Warn("mesh admin port unreachable", "pod", t.pod.Namespace+"/"+t.pod.Name, "port", t.port, "error", de.err)
			return r.write(ctx, pod, nil)
		}
		if len(body) == 0 && fetchErr != nil {
			if errors.Is(fetchErr, context.Canceled) && ctx.Err() != nil {
				return ctx.Err()
			}
			src.Error = fetchErr.Error()
			r.c.cfg.Logger.Warn("mesh admin request failed", "pod", t.pod.Namespace+"/"+t.pod.Name, "request", req, "error", fetchErr)
			if err := r.write(ctx, src, nil); err != nil {
				return err
			}
			continue
		}
		if err := r.parse(ctx, src, body, fetchErr); err != nil {
			return err
		}
	}
	return nil
}

// errTooLarge marks a response cut at Config.MaxBytes.
var errTooLarge = errors.New("response too large")

// get makes one admin request. A response cut at the size bound is
// returned with an error that says so.
func (r *run) get(t target, path string) ([]byte, error) {
	url := "http://" + t.pod.Name + "." + t.pod.Namespace + ":" + strconv.Itoa(t.port) + path
	req, err := http.NewRequestWithContext(r.ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET :%d%s: %w", t.port, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.c.cfg.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET :%d%s: read: %w", t.port, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET :%d%s: %s: %.200s", t.port, path, resp.Status, bytes.TrimSpace(body))
	}
	if int64(len(body)) > r.c.cfg.MaxBytes {
		return body[:r.c.cfg.MaxBytes], fmt.Errorf("GET :%d%s: %w: cut at %d bytes", t.port, path, errTooLarge, r.c.cfg.MaxBytes)
	}
	return body, nil
}

// dialPod is the HTTP transport's dialer: the request's host is
// "pod.namespace:port".
func (r *run) dialPod(ctx context.Context, _, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	name, ns, ok := strings.Cut(host, ".")
	p, perr := strconv.Atoi(port)
	if !ok || perr != nil {
		return nil, fmt.Errorf("bad pod address %q", addr)
	}
	conn, err := r.c.dial.DialPod(ctx, ns, name, p)
	if err != nil && ctx.Err() == nil {
		return nil, &dialError{err}
	}
	return conn, err
}

// dialError marks a request that could not reach the pod's port at all.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// parse hands an output to the bundle parser of src.Kind and writes its
// lines, with fetchErr (a cut response) and the parser's error as the
// source's error.
func (r *run) parse(ctx context.Context, src *causeway.Source, data []byte, fetchErr error) error {
	var lines []causeway.Line
	opts := files.Options{Logger: r.c.cfg.Logger, Year: r.c.cfg.Now().Year()}
	_, perr := files.Parse(ctx, *src, bytes.NewReader(data), opts, func(l causeway.Line) error {
		lines = append(lines, l)
		return nil
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	if perr != nil {
		perr = fmt.Errorf("parse: %w", perr)
	}
	if err := errors.Join(fetchErr, perr); err != nil {
		src.Error = strings.ReplaceAll(err.Error(), "\n", "; ")
	}
	src.Lines = int64(len(lines))
	return r.write(ctx, src, lines)
}

// batchLines is how many lines one WriteLines call carries.
const batchLines = 2000

// write stores a source's lines; the last call carries the source's
// Error and is made even without lines, so that a failed source is
// registered with its reason.
func (r *run) write(ctx context.Context, src *causeway.Source, lines []causeway.Line) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	src.IncidentID = r.inc.ID
	for i := range lines {
		lines[i].IncidentID = r.inc.ID
	}
	errMsg := src.Error
	src.Error = ""
	for len(lines) > batchLines {
		if err := r.sink.WriteLines(ctx, src, lines[:batchLines]); err != nil {
			return err
		}
		lines = lines[batchLines:]
	}
	src.Error = errMsg
	return r.sink.WriteLines(ctx, src, lines)
}
