/**
 * The C++ standard library's sorting as torch 1.13 uses it on CPU (libstdc++, GCC 12), replayed
 * step by step so that equal scores come out in the same order as in torchvision.
 *
 * Glossary
 * - torch.sort(descending, stable=False) = `std::sort` (introsort: median-of-3 quicksort, heapsort
 *   past a depth limit, final insertion sort) over (value, index) pairs compared by value only.
 *   It is not stable: ties land wherever the partitions put them. `batched_nms`'s per-class
 *   branch orders its result this way. (torchvision's NMS kernel itself sorts stably.)
 * - torch.topk(k, largest, sorted) = `std::partial_sort` when k·64 ≤ n, else `std::nth_element`
 *   at k − 1 then `std::sort` of the first k − 1.
 * - perm: the array being sorted holds indices into `values`; `less(a, b)` compares values.
 *   Moving indices around is what the composite (value, index) iterator does in torch.
 *
 * NaN counts as the largest value (torch's comparators put NaN first in descending order).
 */

type Less = (a: number, b: number) => boolean;

/** torch's descending comparator on values: NaN first, then larger first. */
export function descendingBy(values: ArrayLike<number>): Less {
  return (a, b) => {
    const x = values[a]!;
    const y = values[b]!;
    return (Number.isNaN(x) && !Number.isNaN(y)) || x > y;
  };
}

const THRESHOLD = 16;

function swap(p: Int32Array, i: number, j: number): void {
  const t = p[i]!;
  p[i] = p[j]!;
  p[j] = t;
}

/** floor(log2(n)) for n ≥ 1 (`std::__lg`). */
function lg(n: number): number {
  return 31 - Math.clz32(n);
}

function moveMedianToFirst(p: Int32Array, result: number, a: number, b: number, c: number, less: Less): void {
  const A = p[a]!;
  const B = p[b]!;
  const C = p[c]!;
  if (less(A, B)) {
    if (less(B, C)) swap(p, result, b);
    else if (less(A, C)) swap(p, result, c);
    else swap(p, result, a);
  } else if (less(A, C)) swap(p, result, a);
  else if (less(B, C)) swap(p, result, c);
  else swap(p, result, b);
}

function unguardedPartition(p: Int32Array, first: number, last: number, pivot: number, less: Less): number {
  const pv = p[pivot]!;
  for (;;) {
    while (less(p[first]!, pv)) first++;
    last--;
    while (less(pv, p[last]!)) last--;
    if (!(first < last)) return first;
    swap(p, first, last);
    first++;
  }
}

function unguardedPartitionPivot(p: Int32Array, first: number, last: number, less: Less): number {
  const mid = first + ((last - first) >> 1);
  moveMedianToFirst(p, first, first + 1, mid, last - 1, less);
  return unguardedPartition(p, first + 1, last, first, less);
}

function unguardedLinearInsert(p: Int32Array, last: number, less: Less): void {
  const val = p[last]!;
  let next = last - 1;
  while (less(val, p[next]!)) {
    p[last] = p[next]!;
    last = next;
    next--;
  }
  p[last] = val;
}

function insertionSort(p: Int32Array, first: number, last: number, less: Less): void {
  if (first === last) return;
  for (let i = first + 1; i < last; i++) {
    if (less(p[i]!, p[first]!)) {
      const val = p[i]!;
      p.copyWithin(first + 1, first, i);
      p[first] = val;
    } else {
      unguardedLinearInsert(p, i, less);
    }
  }
}

function finalInsertionSort(p: Int32Array, first: number, last: number, less: Less): void {
  if (last - first > THRESHOLD) {
    insertionSort(p, first, first + THRESHOLD, less);
    for (let i = first + THRESHOLD; i < last; i++) unguardedLinearInsert(p, i, less);
  } else {
    insertionSort(p, first, last, less);
  }
}

function pushHeap(p: Int32Array, first: number, hole: number, top: number, value: number, less: Less): void {
  let parent = (hole - 1) >> 1;
  while (hole > top && less(p[first + parent]!, value)) {
    p[first + hole] = p[first + parent]!;
    hole = parent;
    parent = (hole - 1) >> 1;
  }
  p[first + hole] = value;
}

function adjustHeap(p: Int32Array, first: number, hole: number, len: number, value: number, less: Less): void {
  const top = hole;
  let child = hole;
  while (child < ((len - 1) >> 1)) {
    child = 2 * (child + 1);
    if (less(p[first + child]!, p[first + child - 1]!)) child--;
    p[first + hole] = p[first + child]!;
    hole = child;
  }
  if ((len & 1) === 0 && child === (len - 2) >> 1) {
    child = 2 * (child + 1);
    p[first + hole] = p[first + child - 1]!;
    hole = child - 1;
  }
  pushHeap(p, first, hole, top, value, less);
}

function makeHeap(p: Int32Array, first: number, last: number, less: Less): void {
  const len = last - first;
  if (len < 2) return;
  for (let parent = (len - 2) >> 1; ; parent--) {
    adjustHeap(p, first, parent, len, p[first + parent]!, less);
    if (parent === 0) return;
  }
}

function popHeap(p: Int32Array, first: number, last: number, result: number, less: Less): void {
  const value = p[result]!;
  p[result] = p[first]!;
  adjustHeap(p, first, 0, last - first, value, less);
}

function heapSelect(p: Int32Array, first: number, middle: number, last: number, less: Less): void {
  makeHeap(p, first, middle, less);
  for (let i = middle; i < last; i++) if (less(p[i]!, p[first]!)) popHeap(p, first, middle, i, less);
}

function sortHeap(p: Int32Array, first: number, last: number, less: Less): void {
  while (last - first > 1) {
    last--;
    popHeap(p, first, last, last, less);
  }
}

/** `std::partial_sort(first, middle, last)`: the smallest (by `less`) middle − first, sorted. */
export function partialSort(p: Int32Array, first: number, middle: number, last: number, less: Less): void {
  heapSelect(p, first, middle, last, less);
  sortHeap(p, first, middle, less);
}

function introsortLoop(p: Int32Array, first: number, last: number, depth: number, less: Less): void {
  while (last - first > THRESHOLD) {
    if (depth === 0) {
      partialSort(p, first, last, last, less);
      return;
    }
    depth--;
    const cut = unguardedPartitionPivot(p, first, last, less);
    introsortLoop(p, cut, last, depth, less);
    last = cut;
  }
}

/** `std::sort(first, last)` (libstdc++ introsort), in place on `p`. */
export function introsort(p: Int32Array, first: number, last: number, less: Less): void {
  if (first === last) return;
  introsortLoop(p, first, last, lg(last - first) * 2, less);
  finalInsertionSort(p, first, last, less);
}

/** `std::nth_element(first, nth, last)` (libstdc++ introselect), in place on `p`. */
export function nthElement(p: Int32Array, first: number, nth: number, last: number, less: Less): void {
  if (first === last || nth === last) return;
  let depth = lg(last - first) * 2;
  while (last - first > 3) {
    if (depth === 0) {
      heapSelect(p, first, nth + 1, last, less);
      swap(p, first, nth);
      return;
    }
    depth--;
    const cut = unguardedPartitionPivot(p, first, last, less);
    if (cut <= nth) first = cut;
    else last = cut;
  }
  insertionSort(p, first, last, less);
}

/** `values.sort(descending=True)[1]` as torch 1.13 computes it on CPU (not stable). */
export function argsortDescending(values: ArrayLike<number>): Int32Array {
  const p = Int32Array.from({ length: values.length }, (_, i) => i);
  introsort(p, 0, p.length, descendingBy(values));
  return p;
}

/**
 * `values.sort(descending=True, stable=True)[1]` (`std::stable_sort`): equal values keep their
 * index order. torchvision's NMS kernel sorts this way.
 */
export function argsortDescendingStable(values: ArrayLike<number>): Int32Array {
  const less = descendingBy(values);
  const order = Array.from({ length: values.length }, (_, i) => i);
  order.sort((a, b) => (less(a, b) ? -1 : less(b, a) ? 1 : a - b));
  return Int32Array.from(order);
}

/** `values.topk(k)[1]` (largest, sorted) as torch 1.13 computes it on CPU; k is clamped to n. */
export function topkIndices(values: ArrayLike<number>, k: number): Int32Array {
  const n = values.length;
  k = Math.min(k, n);
  if (k <= 0) return new Int32Array(0);
  const p = Int32Array.from({ length: n }, (_, i) => i);
  const less = descendingBy(values);
  if (k * 64 <= n) {
    partialSort(p, 0, k, n, less);
  } else {
    nthElement(p, 0, k - 1, n, less);
    introsort(p, 0, k - 1, less);
  }
  return p.slice(0, k);
}
