//! Pixel operations reproducing OpenCV and Pillow bit for bit where the OCR
//! pipeline depends on them: `cv2.resize` (INTER_LINEAR, 8-bit fixed point),
//! `cv2.warpPerspective` (INTER_CUBIC, BORDER_REPLICATE), `np.rot90`,
//! `cv2.rotate(.., ROTATE_180)`, `cv2.copyMakeBorder` (black rows),
//! `cv2.dilate` (2×2) and Pillow's LANCZOS resize.

/// An interleaved 8-bit, 3-channel image (channel order as decoded: R, G, B).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb {
    pub w: usize,
    pub h: usize,
    pub data: Vec<u8>,
}

impl Rgb {
    /// A black image.
    pub fn new(w: usize, h: usize) -> Self {
        Self { w, h, data: vec![0; w.saturating_mul(h).saturating_mul(3)] }
    }

    /// Pixel channel value (no bounds check beyond slice indexing safety).
    #[inline]
    pub fn at(&self, x: usize, y: usize, c: usize) -> u8 {
        self.data.get((y * self.w + x) * 3 + c).copied().unwrap_or(0)
    }

    /// The sub-image `[y0..y1, x0..x1]` (numpy slicing; bounds already clipped).
    pub fn crop(&self, x0: usize, y0: usize, x1: usize, y1: usize) -> Rgb {
        let (x1, y1) = (x1.min(self.w), y1.min(self.h));
        let (w, h) = (x1.saturating_sub(x0), y1.saturating_sub(y0));
        let mut out = Rgb::new(w, h);
        for y in 0..h {
            let src = ((y0 + y) * self.w + x0) * 3;
            let dst = y * w * 3;
            if let (Some(s), Some(d)) = (self.data.get(src..src + w * 3), out.data.get_mut(dst..dst + w * 3)) {
                d.copy_from_slice(s);
            }
        }
        out
    }
}

const RESIZE_COEF_SCALE: f32 = 2048.0;

/// `cvRound` of a float: round half to even.
#[inline]
fn cv_round_f32(v: f32) -> i32 {
    v.round_ties_even() as i32
}

/// Linear interpolation offsets and fixed-point weights along one axis
/// (`resizeGeneric_` set-up). `clamp_weights` mirrors OpenCV resetting the
/// fraction to 0 at the borders for the horizontal axis.
fn linear_tab(ssize: usize, dsize: usize, clamp_weights: bool) -> Vec<(isize, i32, i32)> {
    let scale = 1.0 / (dsize as f64 / ssize as f64);
    (0..dsize)
        .map(|d| {
            let f = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let mut s = f.floor() as isize;
            let mut f = f - s as f32;
            if clamp_weights {
                if s < 0 {
                    f = 0.0;
                    s = 0;
                }
                if s >= ssize as isize - 1 {
                    f = 0.0;
                    s = ssize as isize - 1;
                }
            }
            let a0 = cv_round_f32((1.0 - f) * RESIZE_COEF_SCALE).clamp(-32768, 32767);
            let a1 = cv_round_f32(f * RESIZE_COEF_SCALE).clamp(-32768, 32767);
            (s, a0, a1)
        })
        .collect()
}

/// `cv2.resize(img, (dw, dh))` with the default INTER_LINEAR on 8-bit data.
pub fn resize_linear(src: &Rgb, dw: usize, dh: usize) -> Rgb {
    let mut out = Rgb::new(dw, dh);
    if src.w == 0 || src.h == 0 || dw == 0 || dh == 0 {
        return out;
    }
    let xt = linear_tab(src.w, dw, true);
    let yt = linear_tab(src.h, dh, false);
    let last_x = src.w - 1;
    // Horizontal pass for every source row (values scaled by 2048).
    let mut hbuf = vec![0i32; src.h * dw * 3];
    for y in 0..src.h {
        for (dx, &(sx, a0, a1)) in xt.iter().enumerate() {
            let s0 = sx.max(0) as usize;
            let s1 = (s0 + 1).min(last_x);
            for c in 0..3 {
                let v = i32::from(src.at(s0, y, c)) * a0 + i32::from(src.at(s1, y, c)) * a1;
                if let Some(slot) = hbuf.get_mut((y * dw + dx) * 3 + c) {
                    *slot = v;
                }
            }
        }
    }
    let last_y = src.h as isize - 1;
    for (dy, &(sy, b0, b1)) in yt.iter().enumerate() {
        let r0 = sy.clamp(0, last_y) as usize;
        let r1 = (sy + 1).clamp(0, last_y) as usize;
        for i in 0..dw * 3 {
            let s0 = hbuf.get(r0 * dw * 3 + i).copied().unwrap_or(0);
            let s1 = hbuf.get(r1 * dw * 3 + i).copied().unwrap_or(0);
            // OpenCV's vectorized vertical pass: 16-bit multiply-high, then (v + 2) >> 2.
            let v = (((s0 >> 4) * b0) >> 16) + (((s1 >> 4) * b1) >> 16);
            if let Some(d) = out.data.get_mut(dy * dw * 3 + i) {
                *d = ((v + 2) >> 2).clamp(0, 255) as u8;
            }
        }
    }
    out
}

/// Adds `pad` black rows at the top and at the bottom.
pub fn pad_vertical(src: &Rgb, pad: usize) -> Rgb {
    let mut out = Rgb::new(src.w, src.h + 2 * pad);
    let start = pad * src.w * 3;
    if let Some(d) = out.data.get_mut(start..start + src.data.len()) {
        d.copy_from_slice(&src.data);
    }
    out
}

/// `np.rot90(img)`: 90° counter-clockwise.
pub fn rot90_ccw(src: &Rgb) -> Rgb {
    let (w, h) = (src.h, src.w);
    let mut out = Rgb::new(w, h);
    for y in 0..h {
        for x in 0..w {
            // out[y][x] = src[x][src.w - 1 - y]
            for c in 0..3 {
                let v = src.at(src.w - 1 - y, x, c);
                if let Some(d) = out.data.get_mut((y * w + x) * 3 + c) {
                    *d = v;
                }
            }
        }
    }
    out
}

/// `cv2.rotate(img, cv2.ROTATE_180)`.
pub fn rot180(src: &Rgb) -> Rgb {
    let mut out = Rgb::new(src.w, src.h);
    let n = src.w * src.h;
    for i in 0..n {
        for c in 0..3 {
            if let (Some(d), Some(s)) = (out.data.get_mut(i * 3 + c), src.data.get((n - 1 - i) * 3 + c)) {
                *d = *s;
            }
        }
    }
    out
}

const INTER_BITS: i32 = 5;
const INTER_TAB_SIZE: i32 = 1 << INTER_BITS;
const REMAP_COEF_SCALE: i32 = 1 << 15;

/// OpenCV's fixed-point bicubic table: `32*32` entries of 4×4 weights.
fn cubic_table() -> &'static [[i32; 16]] {
    static TAB: std::sync::OnceLock<Vec<[i32; 16]>> = std::sync::OnceLock::new();
    TAB.get_or_init(|| {
        let n = INTER_TAB_SIZE as usize;
        let scale = 1.0f32 / INTER_TAB_SIZE as f32;
        let one_d: Vec<[f32; 4]> = (0..n)
            .map(|i| {
                let x = i as f32 * scale;
                let a = -0.75f32;
                let c0 = ((a * (x + 1.0) - 5.0 * a) * (x + 1.0) + 8.0 * a) * (x + 1.0) - 4.0 * a;
                let c1 = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
                let c2 = ((a + 2.0) * (1.0 - x) - (a + 3.0)) * (1.0 - x) * (1.0 - x) + 1.0;
                [c0, c1, c2, 1.0 - c0 - c1 - c2]
            })
            .collect();
        let mut tab = Vec::with_capacity(n * n);
        for fy in &one_d {
            for fx in &one_d {
                let mut it = [0i32; 16];
                let mut isum = 0;
                for k1 in 0..4 {
                    for k2 in 0..4 {
                        let v = fy[k1] * fx[k2];
                        let iv = cv_round_f32(v * REMAP_COEF_SCALE as f32).clamp(-32768, 32767);
                        it[k1 * 4 + k2] = iv;
                        isum += iv;
                    }
                }
                if isum != REMAP_COEF_SCALE {
                    let diff = isum - REMAP_COEF_SCALE;
                    let (mut mk1, mut mk2, mut big1, mut big2) = (2usize, 2usize, 2usize, 2usize);
                    for k1 in 2..4 {
                        for k2 in 2..4 {
                            if it[k1 * 4 + k2] < it[mk1 * 4 + mk2] {
                                mk1 = k1;
                                mk2 = k2;
                            } else if it[k1 * 4 + k2] > it[big1 * 4 + big2] {
                                big1 = k1;
                                big2 = k2;
                            }
                        }
                    }
                    if diff < 0 {
                        it[big1 * 4 + big2] -= diff;
                    } else {
                        it[mk1 * 4 + mk2] -= diff;
                    }
                }
                tab.push(it);
            }
        }
        tab
    })
}

/// Solves `a x = b` (8×8) by Gaussian elimination with partial pivoting.
fn solve8(mut a: [[f64; 8]; 8], mut b: [f64; 8]) -> Option<[f64; 8]> {
    for col in 0..8 {
        let piv = (col..8).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        let pivot = a[col];
        let pivot_b = b[col];
        for row in col + 1..8 {
            let f = a[row][col] / pivot[col];
            for (v, p) in a[row].iter_mut().zip(pivot.iter()).skip(col) {
                *v -= f * p;
            }
            b[row] -= f * pivot_b;
        }
    }
    let mut x = [0.0; 8];
    for row in (0..8).rev() {
        let mut s = b[row];
        for k in row + 1..8 {
            s -= a[row][k] * x[k];
        }
        x[row] = s / a[row][row];
    }
    Some(x)
}

/// `cv2.getPerspectiveTransform(src, dst)` as a 3×3 row-major matrix.
fn perspective_transform(src: &[[f64; 2]; 4], dst: &[[f64; 2]; 4]) -> Option<[f64; 9]> {
    let mut a = [[0.0; 8]; 8];
    let mut b = [0.0; 8];
    for i in 0..4 {
        let ([x, y], [u, v]) = (src[i], dst[i]);
        a[i] = [x, y, 1.0, 0.0, 0.0, 0.0, -x * u, -y * u];
        a[i + 4] = [0.0, 0.0, 0.0, x, y, 1.0, -x * v, -y * v];
        b[i] = u;
        b[i + 4] = v;
    }
    let m = solve8(a, b)?;
    Some([m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], 1.0])
}

/// Inverse of a 3×3 matrix.
fn invert3(m: &[f64; 9]) -> Option<[f64; 9]> {
    let det =
        m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6]);
    if det.abs() < 1e-300 {
        return None;
    }
    let d = 1.0 / det;
    Some([
        (m[4] * m[8] - m[5] * m[7]) * d,
        (m[2] * m[7] - m[1] * m[8]) * d,
        (m[1] * m[5] - m[2] * m[4]) * d,
        (m[5] * m[6] - m[3] * m[8]) * d,
        (m[0] * m[8] - m[2] * m[6]) * d,
        (m[2] * m[3] - m[0] * m[5]) * d,
        (m[3] * m[7] - m[4] * m[6]) * d,
        (m[1] * m[6] - m[0] * m[7]) * d,
        (m[0] * m[4] - m[1] * m[3]) * d,
    ])
}

/// `get_rotate_crop_image`'s warp: maps `quad` (float32 points) onto a
/// `dw × dh` rectangle with INTER_CUBIC and BORDER_REPLICATE.
pub fn warp_quad_cubic(src: &Rgb, quad: &[[f32; 2]; 4], dw: usize, dh: usize) -> Rgb {
    let mut out = Rgb::new(dw, dh);
    if src.w == 0 || src.h == 0 {
        return out;
    }
    let s: [[f64; 2]; 4] = quad.map(|p| [f64::from(p[0]), f64::from(p[1])]);
    let (w, h) = (dw as f64, dh as f64);
    let d = [[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]];
    let Some(m) = perspective_transform(&s, &d).and_then(|m| invert3(&m)) else {
        return out;
    };
    let tab = cubic_table();
    let (sw, sh) = (src.w as i64, src.h as i64);
    for y in 0..dh {
        let (yf, x0, y0, w0) = (y as f64, m[1] * y as f64 + m[2], m[4] * y as f64 + m[5], m[7] * y as f64 + m[8]);
        let _ = yf;
        for x in 0..dw {
            let xf = x as f64;
            let ww = w0 + m[6] * xf;
            let ww = if ww != 0.0 { f64::from(INTER_TAB_SIZE) / ww } else { 0.0 };
            let fx = ((x0 + m[0] * xf) * ww).clamp(f64::from(i32::MIN), f64::from(i32::MAX));
            let fy = ((y0 + m[3] * xf) * ww).clamp(f64::from(i32::MIN), f64::from(i32::MAX));
            let (ix, iy) = (fx.round_ties_even() as i32, fy.round_ties_even() as i32);
            let (sx, sy) = (i64::from(ix >> INTER_BITS) - 1, i64::from(iy >> INTER_BITS) - 1);
            let alpha = ((iy & (INTER_TAB_SIZE - 1)) * INTER_TAB_SIZE + (ix & (INTER_TAB_SIZE - 1))) as usize;
            let Some(wt) = tab.get(alpha) else { continue };
            let xs: [usize; 4] = std::array::from_fn(|i| (sx + i as i64).clamp(0, sw - 1) as usize);
            let ys: [usize; 4] = std::array::from_fn(|i| (sy + i as i64).clamp(0, sh - 1) as usize);
            for c in 0..3 {
                let mut sum = 0i32;
                for (k1, &yy) in ys.iter().enumerate() {
                    for (k2, &xx) in xs.iter().enumerate() {
                        sum += i32::from(src.at(xx, yy, c)) * wt[k1 * 4 + k2];
                    }
                }
                let v = ((sum + (1 << 14)) >> 15).clamp(0, 255) as u8;
                if let Some(d) = out.data.get_mut((y * dw + x) * 3 + c) {
                    *d = v;
                }
            }
        }
    }
    out
}

/// Pillow's 8-bit resampling coefficients for one axis (LANCZOS, support 3).
fn pillow_coeffs(in_size: usize, out_size: usize) -> (usize, Vec<(usize, usize)>, Vec<i32>) {
    const PRECISION_BITS: i32 = 32 - 8 - 2;
    fn sinc(x: f64) -> f64 {
        if x == 0.0 {
            1.0
        } else {
            let x = x * std::f64::consts::PI;
            x.sin() / x
        }
    }
    fn lanczos(x: f64) -> f64 {
        if (-3.0..3.0).contains(&x) { sinc(x) * sinc(x / 3.0) } else { 0.0 }
    }
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = 3.0 * filterscale;
    let ksize = (support.ceil() as usize) * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size);
    let mut kk = vec![0i32; out_size * ksize];
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        let ss = 1.0 / filterscale;
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64).max(0) as usize;
        let n = xmax.saturating_sub(xmin).min(ksize);
        let mut k = vec![0.0f64; n];
        let mut ww = 0.0;
        for (x, slot) in k.iter_mut().enumerate() {
            let w = lanczos((x as f64 + xmin as f64 - center + 0.5) * ss);
            *slot = w;
            ww += w;
        }
        for (x, v) in k.iter().enumerate() {
            let v = if ww != 0.0 { v / ww } else { *v };
            let scaled = v * f64::from(1u32 << PRECISION_BITS);
            let iv = if v < 0.0 { (-0.5 + scaled) as i32 } else { (0.5 + scaled) as i32 };
            if let Some(slot) = kk.get_mut(xx * ksize + x) {
                *slot = iv;
            }
        }
        bounds.push((xmin, n));
    }
    (ksize, bounds, kk)
}

/// `Image.fromarray(img).resize((dw, dh), Image.LANCZOS)` for RGB.
pub fn resize_lanczos(src: &Rgb, dw: usize, dh: usize) -> Rgb {
    const ROUND: i32 = 1 << 21;
    let clip8 = |v: i32| (v >> 22).clamp(0, 255) as u8;
    if src.w == 0 || src.h == 0 || dw == 0 || dh == 0 {
        return Rgb::new(dw, dh);
    }
    let (kh, bh, kkh) = pillow_coeffs(src.w, dw);
    let (kv, bv, kkv) = pillow_coeffs(src.h, dh);
    // Horizontal pass over every source row (the vertical bounds cover them all here).
    let mut tmp = Rgb::new(dw, src.h);
    for y in 0..src.h {
        for (xx, &(xmin, n)) in bh.iter().enumerate() {
            for c in 0..3 {
                let mut ss = ROUND;
                for x in 0..n {
                    ss += i32::from(src.at(xmin + x, y, c)) * kkh.get(xx * kh + x).copied().unwrap_or(0);
                }
                if let Some(d) = tmp.data.get_mut((y * dw + xx) * 3 + c) {
                    *d = clip8(ss);
                }
            }
        }
    }
    let mut out = Rgb::new(dw, dh);
    for (yy, &(ymin, n)) in bv.iter().enumerate() {
        for x in 0..dw {
            for c in 0..3 {
                let mut ss = ROUND;
                for y in 0..n {
                    ss += i32::from(tmp.at(x, ymin + y, c)) * kkv.get(yy * kv + y).copied().unwrap_or(0);
                }
                if let Some(d) = out.data.get_mut((yy * dw + x) * 3 + c) {
                    *d = clip8(ss);
                }
            }
        }
    }
    out
}
