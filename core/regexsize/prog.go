package regexsize

import "sort"

// prog replays re2/prog.cc: Prog::Optimize and Prog::Flatten, which turn
// the compiled instructions into the flat lists whose count is
// RE2::ProgramSize().
type prog struct {
	inst            []inst
	start           uint32
	startUnanchored uint32
}

// sparseSet keeps insertion order, as RE2's SparseSet does.
type sparseSet struct {
	in    []bool
	dense []uint32
}

func newSparseSet(n int) *sparseSet { return &sparseSet{in: make([]bool, n)} }

func (s *sparseSet) clear() {
	for _, id := range s.dense {
		s.in[id] = false
	}
	s.dense = s.dense[:0]
}

func (s *sparseSet) contains(id uint32) bool { return s.in[id] }

func (s *sparseSet) insert(id uint32) {
	if !s.in[id] {
		s.in[id] = true
		s.dense = append(s.dense, id)
	}
}

// sparseMap is RE2's SparseArray<int> of roots: index -> root number, in
// insertion order.
type sparseMap struct {
	val   []int32
	order []uint32
}

func newSparseMap(n int) *sparseMap {
	m := &sparseMap{val: make([]int32, n)}
	for i := range m.val {
		m.val[i] = -1
	}
	return m
}

func (m *sparseMap) has(id uint32) bool { return m.val[id] >= 0 }

func (m *sparseMap) add(id uint32) {
	if m.val[id] < 0 {
		m.val[id] = int32(len(m.order))
		m.order = append(m.order, id)
	}
}

func (p *prog) optimize() {
	n := len(p.inst)
	q := newSparseSet(n)
	add := func(id uint32) {
		if id != 0 {
			q.insert(id)
		}
	}
	skipNops := func(j uint32) uint32 {
		for j != 0 && p.inst[j].op == opNop {
			j = p.inst[j].out
		}
		return j
	}
	add(p.start)
	for i := 0; i < len(q.dense); i++ {
		ip := &p.inst[q.dense[i]]
		ip.out = skipNops(ip.out)
		add(ip.out)
		if ip.op == opAlt {
			ip.out1 = skipNops(ip.out1)
			add(ip.out1)
		}
	}
	// Alt -> ByteRange [00-FF] looping back | Match becomes AltMatch.
	q.clear()
	add(p.start)
	for i := 0; i < len(q.dense); i++ {
		id := q.dense[i]
		ip := &p.inst[id]
		add(ip.out)
		if ip.op != opAlt {
			continue
		}
		add(ip.out1)
		j, k := &p.inst[ip.out], &p.inst[ip.out1]
		anyByteLoop := func(x *inst) bool {
			return x.op == opByteRange && x.out == id && x.lo == 0x00 && x.hi == 0xFF
		}
		if anyByteLoop(j) && p.isMatch(ip.out1) || p.isMatch(ip.out) && anyByteLoop(k) {
			ip.op = opAltMatch
		}
	}
}

func (p *prog) isMatch(id uint32) bool {
	for {
		ip := &p.inst[id]
		switch ip.op {
		case opCapture, opNop:
			id = ip.out
		case opMatch:
			return true
		default:
			return false
		}
	}
}

// flatten returns the number of instructions of the flattened program.
func (p *prog) flatten() int {
	n := len(p.inst)
	reachable := newSparseSet(n)
	var stk []uint32

	// First pass: "successor roots" and the predecessors of Alt outs.
	roots := newSparseMap(n)
	roots.add(0)
	roots.add(p.startUnanchored)
	roots.add(p.start)
	preds := make(map[uint32][]uint32)
	stk = append(stk[:0], p.startUnanchored)
	for len(stk) > 0 {
		id := stk[len(stk)-1]
		stk = stk[:len(stk)-1]
		for !reachable.contains(id) {
			reachable.insert(id)
			ip := &p.inst[id]
			switch ip.op {
			case opAlt, opAltMatch:
				preds[ip.out] = append(preds[ip.out], id)
				preds[ip.out1] = append(preds[ip.out1], id)
				stk = append(stk, ip.out1)
				id = ip.out
				continue
			case opByteRange, opCapture, opEmptyWidth:
				roots.add(ip.out)
				id = ip.out
				continue
			case opNop:
				id = ip.out
				continue
			}
			break
		}
	}

	// Second pass: "dominator roots", from the greatest root down.
	sorted := append([]uint32(nil), roots.order...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	for i := len(sorted) - 1; i > 0; i-- {
		root := sorted[i]
		if root == p.startUnanchored || root == p.start {
			continue
		}
		reachable.clear()
		stk = append(stk[:0], root)
		for len(stk) > 0 {
			id := stk[len(stk)-1]
			stk = stk[:len(stk)-1]
			for !reachable.contains(id) {
				reachable.insert(id)
				if id != root && roots.has(id) {
					break
				}
				ip := &p.inst[id]
				if ip.op == opAlt || ip.op == opAltMatch {
					stk = append(stk, ip.out1)
					id = ip.out
					continue
				}
				if ip.op == opNop {
					id = ip.out
					continue
				}
				break
			}
		}
		for _, id := range reachable.dense {
			for _, pred := range preds[id] {
				if !reachable.contains(pred) {
					roots.add(id)
				}
			}
		}
	}

	// Third pass: emit one list per root.
	size := 0
	for k := 0; k < len(roots.order); k++ {
		root := roots.order[k]
		reachable.clear()
		stk = append(stk[:0], root)
		for len(stk) > 0 {
			id := stk[len(stk)-1]
			stk = stk[:len(stk)-1]
			for !reachable.contains(id) {
				reachable.insert(id)
				if id != root && roots.has(id) {
					size++ // a Nop to the other list
					break
				}
				ip := &p.inst[id]
				switch ip.op {
				case opAltMatch:
					size++
					fallthrough
				case opAlt:
					stk = append(stk, ip.out1)
					id = ip.out
					continue
				case opNop:
					id = ip.out
					continue
				}
				size++ // ByteRange, Capture, EmptyWidth, Match, Fail
				break
			}
		}
	}
	return size
}
