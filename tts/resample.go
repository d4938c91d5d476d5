package tts

import "math"

// resample converts mono PCM between rates with a polyphase windowed-sinc
// filter. Its cutoff sits at 45% of the lower rate, so going down to 8 kHz it
// is also the telephone band's upper edge (3.6 kHz) and nothing aliases.
func resample(in []int16, from, to int) []int16 {
	if from == to || len(in) == 0 {
		return append([]int16(nil), in...)
	}
	g := gcd(from, to)
	up, down := to/g, from/g // output n sits at input position n*down/up

	cutoff := 0.45 * float64(min(from, to)) / float64(from) // cycles per input sample
	const zeroCrossings = 12
	half := int(math.Ceil(zeroCrossings / (2 * cutoff))) // kernel half-width in input samples

	// One kernel per fractional position; there are only `up` of them.
	kernels := make([][]float64, up)
	for phase := range kernels {
		frac := float64(phase) / float64(up)
		k := make([]float64, 2*half)
		sum := 0.0
		for j := range k {
			x := float64(j-half+1) - frac // tap's distance from the output position
			w := blackman(x / float64(half))
			k[j] = 2 * cutoff * sinc(2*cutoff*x) * w
			sum += k[j]
		}
		for j := range k {
			k[j] /= sum // unity gain at DC for every phase
		}
		kernels[phase] = k
	}

	n := int(int64(len(in)) * int64(up) / int64(down))
	out := make([]int16, n)
	for i := range out {
		pos := int64(i) * int64(down)
		base := int(pos / int64(up))
		k := kernels[pos%int64(up)]
		acc := 0.0
		for j, w := range k {
			idx := base - half + 1 + j
			if idx >= 0 && idx < len(in) {
				acc += w * float64(in[idx])
			}
		}
		out[i] = clamp16(acc)
	}
	return out
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// blackman is the Blackman window over x in [-1, 1].
func blackman(x float64) float64 {
	if x <= -1 || x >= 1 {
		return 0
	}
	t := (x + 1) / 2
	return 0.42 - 0.5*math.Cos(2*math.Pi*t) + 0.08*math.Cos(4*math.Pi*t)
}

func clamp16(v float64) int16 {
	v = math.Round(v)
	if v > math.MaxInt16 {
		return math.MaxInt16
	}
	if v < math.MinInt16 {
		return math.MinInt16
	}
	return int16(v)
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// highPass removes energy below the telephone band (300 Hz): a phone line does
// not carry it, and flite's voice puts most of its energy there, which would
// only cost headroom. A 4th-order Butterworth as two biquads.
func highPass(s []int16, rate int, cutoff float64) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	for _, q := range []float64{0.5412, 1.3066} {
		w := 2 * math.Pi * cutoff / float64(rate)
		alpha := math.Sin(w) / (2 * q)
		cosw := math.Cos(w)
		a0 := 1 + alpha
		b0 := (1 + cosw) / 2 / a0
		b1 := -(1 + cosw) / a0
		b2 := b0
		a1 := -2 * cosw / a0
		a2 := (1 - alpha) / a0
		var x1, x2, y1, y2 float64
		for i, x := range out {
			y := b0*x + b1*x1 + b2*x2 - a1*y1 - a2*y2
			x2, x1 = x1, x
			y2, y1 = y1, y
			out[i] = y
		}
	}
	return out
}

// normalize scales s so its peak sits at peak (a fraction of full scale), so
// every engine and voice plays at the same level in the agent's ear.
func normalize(s []float64, peak float64) []int16 {
	var maxAbs float64
	for _, v := range s {
		maxAbs = max(maxAbs, math.Abs(v))
	}
	gain := 1.0
	if maxAbs > 0 {
		gain = peak * math.MaxInt16 / maxAbs
	}
	out := make([]int16, len(s))
	for i, v := range s {
		out[i] = clamp16(v * gain)
	}
	return out
}
