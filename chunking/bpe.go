package chunking

import (
	"container/heap"
	"math"
)

// bpeScratch merges the byte pairs of one piece and counts the tokens left.
// The rule is tiktoken's: merge the adjacent pair of lowest rank, the
// leftmost of equals, until no pair has a rank. Short pieces are merged by
// scanning, as tiktoken does; long ones (a base64 blob, a run of dashes)
// keep their pairs in a heap so that the cost stays n log n instead of n².
type bpeScratch struct {
	parts []bpePart
	heap  pairHeap
	next  []int32
	prev  []int32
}

type bpePart struct {
	start int
	rank  int
}

const bpeScanMax = 128 // bytes up to which scanning beats the heap

func (b *bpeScratch) count(piece string, ranks map[string]int) int {
	if len(piece) <= 1 {
		return len(piece)
	}
	if len(piece) <= bpeScanMax {
		return b.scan(piece, ranks)
	}
	return b.merge(piece, ranks)
}

// scan is tiktoken's byte_pair_merge.
func (b *bpeScratch) scan(piece string, ranks map[string]int) int {
	parts := b.parts[:0]
	for i := 0; i <= len(piece); i++ {
		parts = append(parts, bpePart{start: i, rank: math.MaxInt})
	}
	rank := func(i, skip int) int {
		if i+skip+2 < len(parts) {
			if r, ok := ranks[piece[parts[i].start:parts[i+skip+2].start]]; ok {
				return r
			}
		}
		return math.MaxInt
	}
	for i := 0; i < len(parts)-2; i++ {
		parts[i].rank = rank(i, 0)
	}
	for len(parts) > 1 {
		minRank, at := math.MaxInt, -1
		for i := 0; i < len(parts)-1; i++ {
			if parts[i].rank < minRank {
				minRank, at = parts[i].rank, i
			}
		}
		if at < 0 {
			break
		}
		parts[at].rank = rank(at, 1)
		if at > 0 {
			parts[at-1].rank = rank(at-1, 1)
		}
		parts = append(parts[:at+1], parts[at+2:]...)
	}
	b.parts = parts
	return len(parts) - 1
}

// merge gives the same result as scan with a heap of candidate pairs and a
// linked list of the tokens so far, indexed by their first byte.
func (b *bpeScratch) merge(piece string, ranks map[string]int) int {
	n := len(piece)
	b.next = resize(b.next, n)
	b.prev = resize(b.prev, n)
	for i := 0; i < n; i++ {
		b.next[i], b.prev[i] = int32(i+1), int32(i-1)
	}
	end := func(i int) int { return int(b.next[i]) } // next == n marks the last token
	b.heap = b.heap[:0]
	ready := false // once the heap is built, pushes keep its order
	push := func(left int) {
		right := end(left)
		if right >= n {
			return
		}
		stop := end(right)
		if r, ok := ranks[piece[left:stop]]; ok {
			if ready {
				heap.Push(&b.heap, pair{rank: r, left: left, stop: stop})
			} else {
				b.heap = append(b.heap, pair{rank: r, left: left, stop: stop})
			}
		}
	}
	for i := 0; i+1 < n; i++ {
		push(i)
	}
	heap.Init(&b.heap)
	ready = true
	tokens := n
	alive := func(i int) bool { return i == 0 || b.prev[i] >= 0 && end(int(b.prev[i])) == i }
	for b.heap.Len() > 0 {
		p := heap.Pop(&b.heap).(pair)
		if !alive(p.left) {
			continue
		}
		right := end(p.left)
		if right >= n || end(right) != p.stop {
			continue // a merge since the push changed this pair
		}
		// Merge right into left.
		b.next[p.left] = int32(p.stop)
		if p.stop < n {
			b.prev[p.stop] = int32(p.left)
		}
		b.prev[right] = -1
		tokens--
		push(p.left)
		if pl := b.prev[p.left]; p.left > 0 && pl >= 0 {
			push(int(pl))
		}
	}
	return tokens
}

func resize(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

type pair struct {
	rank, left, stop int
}

// pairHeap orders pairs by rank, then leftmost first.
type pairHeap []pair

func (h pairHeap) Len() int { return len(h) }
func (h pairHeap) Less(i, j int) bool {
	if h[i].rank != h[j].rank {
		return h[i].rank < h[j].rank
	}
	return h[i].left < h[j].left
}
func (h pairHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pairHeap) Push(x any)   { *h = append(*h, x.(pair)) }
func (h *pairHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
