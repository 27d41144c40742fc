package k8s

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"

	"github.com/causeway-rca/causeway"
)

// pageSize is how many objects one list call asks for.
const pageSize = 500

// list is a Kubernetes List as `kubectl get -o json` prints it, the form
// files.Parse reads.
type list struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Items      []any  `json:"items"`
}

// errObjectLimit marks a list cut at Config.MaxObjects.
var errObjectLimit = errors.New("object limit reached")

// listAll pages through a list, at most limit objects. When the bound
// cuts it, the objects read are returned with an error that says so.
func listAll[T any](ctx context.Context, limit int, opts metav1.ListOptions,
	page func(ctx context.Context, opts metav1.ListOptions) ([]T, string, error)) ([]T, error) {
	var all []T
	opts.Limit = int64(min(pageSize, limit))
	for {
		items, next, err := page(ctx, opts)
		all = append(all, items...)
		if err != nil {
			return all, err
		}
		if len(all) >= limit && (next != "" || len(all) > limit) {
			return all[:limit], fmt.Errorf("%w: kept the first %d objects", errObjectLimit, limit)
		}
		if next == "" {
			return all, nil
		}
		opts.Continue = next
	}
}

// typed sets the kind that typed clients leave empty on list items, so
// that lines name what they are about.
func typed[T any](items []T, meta func(*T) (*metav1.TypeMeta, *metav1.ObjectMeta), kind, apiVersion string) []any {
	out := make([]any, len(items))
	for i := range items {
		tm, om := meta(&items[i])
		tm.Kind, tm.APIVersion = kind, apiVersion
		om.ManagedFields = nil
		out[i] = &items[i]
	}
	return out
}

// nodes collects every Node's conditions: disk, memory and PID pressure
// are where a node-level cause shows.
func (r *run) nodes(ctx context.Context) error {
	src := &causeway.Source{Name: "k8s/nodes.json", Kind: causeway.KindObjects}
	items, err := listAll(r.ctx, r.c.cfg.MaxObjects, metav1.ListOptions{},
		func(ctx context.Context, o metav1.ListOptions) ([]corev1.Node, string, error) {
			l, err := r.c.client.CoreV1().Nodes().List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		})
	for i := range items {
		items[i].Status.Images = nil // hundreds of image names say nothing about the incident
	}
	return r.objects(ctx, src, typed(items, nodeMeta, "Node", "v1"), err)
}

func nodeMeta(n *corev1.Node) (*metav1.TypeMeta, *metav1.ObjectMeta) {
	return &n.TypeMeta, &n.ObjectMeta
}

// nodeEvents collects the events about nodes, which Kubernetes files in
// "default" whatever namespaces the incident is about: an image garbage
// collection that could not free the disk is one of them.
func (r *run) nodeEvents(ctx context.Context) error {
	src := &causeway.Source{Name: "k8s/nodes/events.json", Kind: causeway.KindEvents}
	items, err := listAll(r.ctx, r.c.cfg.MaxObjects, metav1.ListOptions{FieldSelector: "involvedObject.kind=Node"},
		func(ctx context.Context, o metav1.ListOptions) ([]corev1.Event, string, error) {
			l, err := r.c.client.CoreV1().Events(metav1.NamespaceAll).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		})
	var evs []event
	for i := range items {
		if e := coreEvent(&items[i]); e.kind == "Node" {
			evs = append(evs, e)
		}
	}
	return r.eventList(ctx, src, evs, r.fetchErr(err))
}

// event is an event of either API with the times the window is matched on.
type event struct {
	uid         string
	kind, name  string
	first, last time.Time
	obj         any
}

func coreEvent(e *corev1.Event) event {
	e.TypeMeta = metav1.TypeMeta{Kind: "Event", APIVersion: "v1"}
	e.ManagedFields = nil
	var series time.Time
	if e.Series != nil {
		series = e.Series.LastObservedTime.Time
	}
	return event{uid: string(e.UID), kind: e.InvolvedObject.Kind, name: e.InvolvedObject.Name, obj: e,
		last:  firstTime(e.LastTimestamp.Time, series, e.EventTime.Time, e.FirstTimestamp.Time, e.CreationTimestamp.Time),
		first: firstTime(e.FirstTimestamp.Time, e.EventTime.Time, e.CreationTimestamp.Time)}
}

func newEvent(e *eventsv1.Event) event {
	e.TypeMeta = metav1.TypeMeta{Kind: "Event", APIVersion: "events.k8s.io/v1"}
	e.ManagedFields = nil
	var series time.Time
	if e.Series != nil {
		series = e.Series.LastObservedTime.Time
	}
	return event{uid: string(e.UID), kind: e.Regarding.Kind, name: e.Regarding.Name, obj: e,
		last: firstTime(e.DeprecatedLastTimestamp.Time, series, e.EventTime.Time, e.DeprecatedFirstTimestamp.Time,
			e.CreationTimestamp.Time),
		first: firstTime(e.DeprecatedFirstTimestamp.Time, e.EventTime.Time, e.CreationTimestamp.Time)}
}

func firstTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// events collects a scope's events from both event APIs. They are two
// views of the same objects, so each event is kept once, by UID, in its
// events.k8s.io form (which carries series and the reporting controller);
// reading both keeps a cluster that serves or permits only one covered.
func (r *run) events(ctx context.Context, s Scope) error {
	src := &causeway.Source{Name: "k8s/" + s.Namespace + "/events.json", Kind: causeway.KindEvents,
		Labels: map[string]string{"namespace": s.Namespace}}
	newer, newErr := listAll(r.ctx, r.c.cfg.MaxObjects, metav1.ListOptions{},
		func(ctx context.Context, o metav1.ListOptions) ([]eventsv1.Event, string, error) {
			l, err := r.c.client.EventsV1().Events(s.Namespace).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		})
	core, coreErr := listAll(r.ctx, r.c.cfg.MaxObjects, metav1.ListOptions{},
		func(ctx context.Context, o metav1.ListOptions) ([]corev1.Event, string, error) {
			l, err := r.c.client.CoreV1().Events(s.Namespace).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		})
	seen := map[string]bool{}
	var evs []event
	for i := range newer {
		e := newEvent(&newer[i])
		seen[e.uid] = e.uid != ""
		evs = append(evs, e)
	}
	for i := range core {
		if e := coreEvent(&core[i]); !seen[e.uid] {
			evs = append(evs, e)
		}
	}
	if s.Selector != "" {
		names := r.selected[s]
		evs = slices.DeleteFunc(evs, func(e event) bool { return !names[e.kind+"/"+e.name] })
	}
	// One API failing is reported only when the other did not cover it.
	var err error
	switch {
	case newErr != nil && coreErr != nil:
		err = fmt.Errorf("events.k8s.io/v1: %w; core/v1: %w", r.fetchErr(newErr), r.fetchErr(coreErr))
	case errors.Is(newErr, errObjectLimit) || errors.Is(coreErr, errObjectLimit):
		err = fmt.Errorf("events: %w", errObjectLimit)
	}
	return r.eventList(ctx, src, evs, err)
}

// eventList keeps the events that overlap the window, in time order.
func (r *run) eventList(ctx context.Context, src *causeway.Source, evs []event, fetchErr error) error {
	evs = slices.DeleteFunc(evs, func(e event) bool {
		return (!e.last.IsZero() && e.last.Before(r.from)) || (!e.first.IsZero() && e.first.After(r.to))
	})
	slices.SortStableFunc(evs, func(a, b event) int {
		return cmp.Or(a.last.Compare(b.last), strings.Compare(a.uid, b.uid))
	})
	items := make([]any, len(evs))
	for i, e := range evs {
		items[i] = e.obj
	}
	return r.objects(ctx, src, items, fetchErr)
}

// objects writes items as one List source, unless there is nothing to
// say: an empty list with no error registers no source.
func (r *run) objects(ctx context.Context, src *causeway.Source, items []any, fetchErr error) error {
	if len(items) == 0 && fetchErr == nil {
		return nil
	}
	if items == nil {
		items = []any{}
	}
	return r.parseJSON(ctx, src, list{APIVersion: "v1", Kind: "List", Items: items}, r.fetchErr(fetchErr))
}

// workloads collects a scope's pods, Deployments, ReplicaSets and HPAs,
// and remembers the pods for their logs and the names for the events.
func (r *run) workloads(ctx context.Context, s Scope) error {
	ns, opts := s.Namespace, metav1.ListOptions{LabelSelector: s.Selector}
	names := map[string]bool{}
	r.selected[s] = names
	labels := map[string]string{"namespace": ns}
	src := func(resource string) *causeway.Source {
		return &causeway.Source{Name: "k8s/" + ns + "/" + resource + ".json", Kind: causeway.KindObjects, Labels: labels}
	}

	pods, err := listAll(r.ctx, r.c.cfg.MaxObjects, opts,
		func(ctx context.Context, o metav1.ListOptions) ([]corev1.Pod, string, error) {
			l, err := r.c.client.CoreV1().Pods(ns).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		})
	// A pod created after the window played no part in it.
	pods = slices.DeleteFunc(pods, func(p corev1.Pod) bool { return p.CreationTimestamp.After(r.to) })
	slices.SortFunc(pods, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	for _, p := range pods {
		names["Pod/"+p.Name] = true
	}
	r.pods[s] = pods
	if err := r.objects(ctx, src("pods"), typed(slices.Clone(pods), podMeta, "Pod", "v1"), err); err != nil {
		return err
	}

	deps, err := listAll(r.ctx, r.c.cfg.MaxObjects, opts,
		func(ctx context.Context, o metav1.ListOptions) ([]appsv1.Deployment, string, error) {
			l, err := r.c.client.AppsV1().Deployments(ns).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		})
	for _, d := range deps {
		names["Deployment/"+d.Name] = true
	}
	if err := r.objects(ctx, src("deployments"), typed(deps, deploymentMeta, "Deployment", "apps/v1"), err); err != nil {
		return err
	}

	rss, err := listAll(r.ctx, r.c.cfg.MaxObjects, opts,
		func(ctx context.Context, o metav1.ListOptions) ([]appsv1.ReplicaSet, string, error) {
			l, err := r.c.client.AppsV1().ReplicaSets(ns).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		})
	// Old ReplicaSets scaled to zero long ago are history; those running
	// or created in the window are the rollout.
	rss = slices.DeleteFunc(rss, func(rs appsv1.ReplicaSet) bool {
		running := rs.Status.Replicas > 0 || (rs.Spec.Replicas != nil && *rs.Spec.Replicas > 0)
		created := !rs.CreationTimestamp.Before(&metav1.Time{Time: r.from}) && !rs.CreationTimestamp.After(r.to)
		return !running && !created
	})
	for _, rs := range rss {
		names["ReplicaSet/"+rs.Name] = true
	}
	if err := r.objects(ctx, src("replicasets"), typed(rss, replicaSetMeta, "ReplicaSet", "apps/v1"), err); err != nil {
		return err
	}

	hpas, err := listAll(r.ctx, r.c.cfg.MaxObjects, opts,
		func(ctx context.Context, o metav1.ListOptions) ([]autoscalingv2.HorizontalPodAutoscaler, string, error) {
			l, err := r.c.client.AutoscalingV2().HorizontalPodAutoscalers(ns).List(ctx, o)
			if err != nil {
				return nil, "", err
			}
			return l.Items, l.Continue, nil
		})
	for _, h := range hpas {
		names["HorizontalPodAutoscaler/"+h.Name] = true
	}
	return r.objects(ctx, src("horizontalpodautoscalers"), typed(hpas, hpaMeta, "HorizontalPodAutoscaler", "autoscaling/v2"), err)
}

func podMeta(p *corev1.Pod) (*metav1.TypeMeta, *metav1.ObjectMeta) { return &p.TypeMeta, &p.ObjectMeta }
func deploymentMeta(d *appsv1.Deployment) (*metav1.TypeMeta, *metav1.ObjectMeta) {
	return &d.TypeMeta, &d.ObjectMeta
}
func replicaSetMeta(rs *appsv1.ReplicaSet) (*metav1.TypeMeta, *metav1.ObjectMeta) {
	return &rs.TypeMeta, &rs.ObjectMeta
}
func hpaMeta(h *autoscalingv2.HorizontalPodAutoscaler) (*metav1.TypeMeta, *metav1.ObjectMeta) {
	return &h.TypeMeta, &h.ObjectMeta
}

// builtinGroups are the API groups Kubernetes itself serves. Everything
// else found by discovery is a custom resource (or an aggregated API) whose
// status the sweep reads; the built-in kinds that matter are collected by
// name above.
var builtinGroups = map[string]bool{
	"": true, "apps": true, "batch": true, "autoscaling": true, "policy": true, "extensions": true,
	"events.k8s.io": true, "networking.k8s.io": true, "discovery.k8s.io": true, "coordination.k8s.io": true,
	"rbac.authorization.k8s.io": true, "authorization.k8s.io": true, "authentication.k8s.io": true,
	"storage.k8s.io": true, "scheduling.k8s.io": true, "node.k8s.io": true, "certificates.k8s.io": true,
	"admissionregistration.k8s.io": true, "apiextensions.k8s.io": true, "apiregistration.k8s.io": true,
	"flowcontrol.apiserver.k8s.io": true, "internal.apiserver.k8s.io": true, "resource.k8s.io": true,
	"metrics.k8s.io": true, "storagemigration.k8s.io": true,
}

// customResources finds, once per collection, every namespaced custom
// resource the cluster serves, in its preferred version.
func (r *run) customResources(ctx context.Context, s Scope) error {
	if r.c.dynamic == nil {
		return nil
	}
	if r.crds == nil {
		crds, err := r.discoverCRDs()
		r.crds = crds
		if r.crds == nil {
			r.crds = []schema.GroupVersionResource{}
		}
		if err != nil {
			if err := r.fail(ctx, &causeway.Source{Name: "k8s/discovery", Kind: causeway.KindObjects}, err); err != nil {
				return err
			}
		}
	}
	var failed []string
	for _, gvr := range r.crds {
		if r.ctx.Err() != nil {
			failed = append(failed, gvr.Resource+"."+gvr.Group+": "+r.fetchErr(r.ctx.Err()).Error())
			break
		}
		items, err := listAll(r.ctx, r.c.cfg.MaxObjects, metav1.ListOptions{LabelSelector: s.Selector},
			func(ctx context.Context, o metav1.ListOptions) ([]unstructured.Unstructured, string, error) {
				l, err := r.c.dynamic.Resource(gvr).Namespace(s.Namespace).List(ctx, o)
				if err != nil {
					return nil, "", err
				}
				return l.Items, l.GetContinue(), nil
			})
		if err != nil && !errors.Is(err, errObjectLimit) {
			failed = append(failed, gvr.Resource+"."+gvr.Group+": "+r.fetchErr(err).Error())
			continue
		}
		objs := make([]any, len(items))
		for i := range items {
			unstructured.RemoveNestedField(items[i].Object, "metadata", "managedFields")
			objs[i] = items[i].Object
		}
		src := &causeway.Source{Name: "k8s/" + s.Namespace + "/" + gvr.Resource + "." + gvr.Group + ".json",
			Kind: causeway.KindObjects, Labels: map[string]string{"namespace": s.Namespace}}
		if err := r.objects(ctx, src, objs, err); err != nil {
			return err
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return r.fail(ctx, &causeway.Source{Name: "k8s/" + s.Namespace + "/customresources", Kind: causeway.KindObjects,
		Labels: map[string]string{"namespace": s.Namespace}},
		fmt.Errorf("%d custom resources not listed: %s", len(failed), strings.Join(failed, "; ")))
}

// discoverCRDs lists the namespaced, listable resources of every group
// that is not built in, in the group's preferred version. A group whose
// discovery failed is named in the error; the others are still returned.
func (r *run) discoverCRDs() ([]schema.GroupVersionResource, error) {
	if r.c.discovery == nil {
		return nil, errors.New("no discovery client: custom resources not collected")
	}
	groups, lists, err := r.c.discovery.ServerGroupsAndResourcesWithContext(r.ctx)
	var partial *discovery.ErrGroupDiscoveryFailed
	if err != nil && !errors.As(err, &partial) {
		return nil, fmt.Errorf("discover custom resources: %w", r.fetchErr(err))
	}
	preferred := map[string]string{}
	for _, g := range groups {
		if !builtinGroups[g.Name] {
			preferred[g.Name] = g.PreferredVersion.Version
		}
	}
	var out []schema.GroupVersionResource
	for _, l := range lists {
		gv, perr := schema.ParseGroupVersion(l.GroupVersion)
		if perr != nil || builtinGroups[gv.Group] || preferred[gv.Group] != gv.Version {
			continue
		}
		for _, res := range l.APIResources {
			if res.Namespaced && !strings.Contains(res.Name, "/") && slices.Contains(res.Verbs, "list") {
				out = append(out, gv.WithResource(res.Name))
			}
		}
	}
	slices.SortFunc(out, func(a, b schema.GroupVersionResource) int {
		return cmp.Or(strings.Compare(a.Group, b.Group), strings.Compare(a.Resource, b.Resource))
	})
	if partial != nil {
		return out, fmt.Errorf("discover custom resources: %w", partial)
	}
	return out, nil
}
