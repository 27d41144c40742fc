// Package k8s collects an incident's evidence from a Kubernetes cluster
// through client-go: the logs of every container in the selected
// namespaces (and of the current instance's predecessor when a container
// restarted), Events from both the core/v1 and the events.k8s.io/v1 API,
// pods, Deployments, ReplicaSets, HorizontalPodAutoscalers and Nodes, and
// the status of every namespaced custom resource found through discovery.
//
// Nothing is parsed here: API responses are serialized as the List JSON
// `kubectl get -o json` prints and handed to files.Parse, so a condition,
// a container's last termination or an event reads the same whether it
// came from a bundle or from a live cluster.
//
// Controllers that serve the selected namespaces from elsewhere (a gateway
// or ingress controller, a mesh control plane) are collected when listed
// in Config.Controllers: the line that explains a 503 in one namespace is
// often in the controller's log in another.
package k8s

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/collectors/files"
)

// Defaults of Config's bounds.
const (
	DefaultMaxLogLines      = 20_000
	DefaultMaxLogBytes      = 8 << 20
	DefaultMaxTotalLogBytes = 256 << 20
	DefaultMaxObjects       = 2_000
	DefaultTimeout          = 10 * time.Minute
)

// Scope is a namespace to collect and, optionally, a label selector that
// narrows its pods and objects to one component.
type Scope struct {
	Namespace string
	// Selector is a label selector ("app=istiod"); empty selects all.
	Selector string
}

// ParseScope reads "namespace" or "namespace:selector", as the
// --controllers flag takes it.
func ParseScope(s string) (Scope, error) {
	ns, sel, _ := strings.Cut(strings.TrimSpace(s), ":")
	if ns == "" {
		return Scope{}, causeway.Errorf(causeway.EINVALID, "scope %q names no namespace", s)
	}
	if sel != "" {
		if _, err := labels.Parse(sel); err != nil {
			return Scope{}, &causeway.Error{Code: causeway.EINVALID, Message: fmt.Sprintf("scope %q: bad label selector", s), Err: err}
		}
	}
	return Scope{Namespace: ns, Selector: sel}, nil
}

// Config says what to collect and how much of it.
type Config struct {
	// Namespaces are collected whole: every pod's logs, every event and
	// object.
	Namespaces []string
	// Controllers are collected as well, narrowed by their selectors:
	// components outside Namespaces that own or serve them.
	Controllers []Scope
	// MaxLogLines and MaxLogBytes bound one container's log; the bound hit
	// is reported as the source's error with the time it was reached.
	MaxLogLines int
	MaxLogBytes int64
	// MaxTotalLogBytes bounds the logs of the whole collection; containers
	// past it are registered with an error saying so.
	MaxTotalLogBytes int64
	// MaxObjects bounds one list (events, pods, a custom resource) per
	// namespace.
	MaxObjects int
	// Timeout bounds the whole collection; what was read by then is kept.
	Timeout time.Duration
	Logger  *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.MaxLogLines <= 0 {
		c.MaxLogLines = DefaultMaxLogLines
	}
	if c.MaxLogBytes <= 0 {
		c.MaxLogBytes = DefaultMaxLogBytes
	}
	if c.MaxTotalLogBytes <= 0 {
		c.MaxTotalLogBytes = DefaultMaxTotalLogBytes
	}
	if c.MaxObjects <= 0 {
		c.MaxObjects = DefaultMaxObjects
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// discoverer is the part of client-go's discovery client the collector
// uses to find custom resources.
type discoverer interface {
	ServerGroupsAndResourcesWithContext(ctx context.Context) ([]*metav1.APIGroup, []*metav1.APIResourceList, error)
}

// Collector collects from one cluster.
type Collector struct {
	cfg       Config
	client    kubernetes.Interface
	dynamic   dynamic.Interface
	discovery discoverer
}

var _ causeway.Collector = (*Collector)(nil)

// New returns a collector over client, which must not be nil. dyn may be
// nil: custom resources are then not collected.
func New(client kubernetes.Interface, dyn dynamic.Interface, cfg Config) *Collector {
	c := &Collector{cfg: cfg.withDefaults(), client: client, dynamic: dyn}
	if d, ok := client.Discovery().(discoverer); ok {
		c.discovery = d
	}
	return c
}

// NewForConfig returns a collector for the cluster rc points at.
func NewForConfig(rc *rest.Config, cfg Config) (*Collector, error) {
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client for %s: %w", rc.Host, err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("dynamic client for %s: %w", rc.Host, err)
	}
	return New(client, dyn, cfg), nil
}

// RESTConfig finds the cluster as kubectl does: the kubeconfig file named
// (or a list of them joined as in $KUBECONFIG; else $KUBECONFIG, else
// ~/.kube/config) and its context (else the current one); with no file
// named, the pod's service account when running in a cluster.
func RESTConfig(kubeconfig, kubecontext string) (*rest.Config, error) {
	if kubeconfig == "" {
		rc, err := rest.InClusterConfig()
		if err == nil {
			return rc, nil
		}
		if !errors.Is(err, rest.ErrNotInCluster) {
			return nil, fmt.Errorf("in-cluster config: %w", err)
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if paths := filepath.SplitList(kubeconfig); len(paths) > 1 {
		rules.Precedence = paths // a $KUBECONFIG-style list, merged as kubectl does
	} else {
		rules.ExplicitPath = kubeconfig
	}
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: kubecontext}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	return rc, nil
}

// run is one collection: its window, its budget and what it wrote.
type run struct {
	c        *Collector
	inc      *causeway.Incident
	sink     causeway.LineSink
	ctx      context.Context // bounded by Config.Timeout; fetches use it
	from, to time.Time
	logBytes int64
	opts     files.Options
	// pods and selected remember what workloads found, for logs and events.
	pods     map[Scope][]corev1.Pod
	selected map[Scope]map[string]bool
	// crds is what discovery found, looked up once per collection.
	crds []schema.GroupVersionResource
}

// Collect implements causeway.Collector. A cluster that cannot be reached
// and every list or log that fails are recorded as source errors; Collect
// itself fails only when the sink does or ctx ends.
func (c *Collector) Collect(ctx context.Context, inc *causeway.Incident, sink causeway.LineSink) error {
	fetchCtx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	r := &run{c: c, inc: inc, sink: sink, ctx: fetchCtx, from: inc.WindowStart, to: inc.WindowEnd,
		opts: files.Options{Logger: c.cfg.Logger, Year: inc.WindowStart.Year()},
		pods: map[Scope][]corev1.Pod{}, selected: map[Scope]map[string]bool{}}
	if r.to.IsZero() {
		r.to = time.Now()
	}
	scopes := c.scopes()
	if len(scopes) == 0 {
		return r.fail(ctx, &causeway.Source{Name: "k8s", Kind: causeway.KindObjects},
			errors.New("no namespace to collect: configure namespaces or controllers"))
	}
	if _, err := discovery.ToDiscoveryInterfaceWithContext(c.client.Discovery()).ServerVersionWithContext(fetchCtx); err != nil {
		return r.fail(ctx, &causeway.Source{Name: "k8s", Kind: causeway.KindObjects}, fmt.Errorf("reach the cluster: %w", r.fetchErr(err)))
	}
	steps := []func(context.Context) error{r.nodes, r.nodeEvents}
	for _, s := range scopes {
		steps = append(steps,
			func(ctx context.Context) error { return r.workloads(ctx, s) },
			func(ctx context.Context) error { return r.events(ctx, s) },
			func(ctx context.Context) error { return r.customResources(ctx, s) },
			func(ctx context.Context) error { return r.logs(ctx, s) })
	}
	for i, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if r.ctx.Err() != nil && i < len(steps)-1 {
			return r.fail(ctx, &causeway.Source{Name: "k8s", Kind: causeway.KindObjects},
				fmt.Errorf("%w (%s) after %d of %d steps; the rest was not collected", errTimeLimit, c.cfg.Timeout, i+1, len(steps)))
		}
	}
	return nil
}

// scopes returns the namespaces to collect, whole namespaces first; a
// controller scope in a namespace collected whole adds nothing.
func (c *Collector) scopes() []Scope {
	var out []Scope
	whole := map[string]bool{}
	for _, ns := range c.cfg.Namespaces {
		if ns != "" && !whole[ns] {
			whole[ns] = true
			out = append(out, Scope{Namespace: ns})
		}
	}
	for _, s := range c.cfg.Controllers {
		if s.Namespace == "" || whole[s.Namespace] || slices.Contains(out, s) {
			continue
		}
		out = append(out, s)
	}
	return out
}

// errTimeLimit marks a fetch ended by Config.Timeout.
var errTimeLimit = errors.New("time limit reached")

// fetchErr describes a failed fetch, naming the time limit when that is
// what ended it.
func (r *run) fetchErr(err error) error {
	if err != nil && r.ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, errTimeLimit) {
		return fmt.Errorf("%w (%s): %w", errTimeLimit, r.c.cfg.Timeout, err)
	}
	return err
}
