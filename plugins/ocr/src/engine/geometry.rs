//! Geometry of the DB text detector's post-processing: contours of the
//! binary map (`cv2.findContours`, RETR_LIST), convex hulls,
//! `cv2.minAreaRect` (rotating calipers in float32) with `cv2.boxPoints`,
//! `get_mini_boxes`, `box_score_fast` and the pyclipper round offset
//! (`unclip`).

/// A point in float32, as OpenCV keeps them.
pub type P32 = [f32; 2];

/// Point sets of the contours of a binary map (row-major `w × h`, non-zero =
/// foreground): one per 8-connected foreground component (its pixels) and one
/// per hole (the foreground pixels bordering a 4-connected background
/// component enclosed by foreground). The convex hull — all that
/// `minAreaRect` uses — equals that of OpenCV's traced border.
pub fn contour_point_sets(mask: &[u8], w: usize, h: usize) -> Vec<Vec<[i32; 2]>> {
    let idx = |x: usize, y: usize| y * w + x;
    let fg = |x: usize, y: usize| mask.get(idx(x, y)).copied().unwrap_or(0) != 0;
    let mut label = vec![0u32; w * h];
    let mut sets: Vec<Vec<[i32; 2]>> = Vec::new();
    let mut stack: Vec<(usize, usize)> = Vec::new();
    // Foreground components, 8-connected, in raster order of their first pixel.
    for y in 0..h {
        for x in 0..w {
            if !fg(x, y) || label[idx(x, y)] != 0 {
                continue;
            }
            let id = sets.len() as u32 + 1;
            let mut pts = Vec::new();
            label[idx(x, y)] = id;
            stack.push((x, y));
            while let Some((cx, cy)) = stack.pop() {
                pts.push([cx as i32, cy as i32]);
                for dy in -1i64..=1 {
                    for dx in -1i64..=1 {
                        let (nx, ny) = (cx as i64 + dx, cy as i64 + dy);
                        if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                            continue;
                        }
                        let (nx, ny) = (nx as usize, ny as usize);
                        if fg(nx, ny) && label[idx(nx, ny)] == 0 {
                            label[idx(nx, ny)] = id;
                            stack.push((nx, ny));
                        }
                    }
                }
            }
            sets.push(pts);
        }
    }
    // Holes: background components (4-connected) that do not touch the frame.
    let mut seen = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            if fg(x, y) || seen[idx(x, y)] {
                continue;
            }
            let mut touches_frame = false;
            let mut border: Vec<[i32; 2]> = Vec::new();
            seen[idx(x, y)] = true;
            stack.push((x, y));
            while let Some((cx, cy)) = stack.pop() {
                if cx == 0 || cy == 0 || cx + 1 == w || cy + 1 == h {
                    touches_frame = true;
                }
                let nbrs = [
                    (cx as i64 - 1, cy as i64),
                    (cx as i64 + 1, cy as i64),
                    (cx as i64, cy as i64 - 1),
                    (cx as i64, cy as i64 + 1),
                ];
                for (nx, ny) in nbrs {
                    if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                        continue;
                    }
                    let (nx, ny) = (nx as usize, ny as usize);
                    if fg(nx, ny) {
                        border.push([nx as i32, ny as i32]);
                    } else if !seen[idx(nx, ny)] {
                        seen[idx(nx, ny)] = true;
                        stack.push((nx, ny));
                    }
                }
            }
            if !touches_frame && !border.is_empty() {
                border.sort_unstable();
                border.dedup();
                sets.push(border);
            }
        }
    }
    // OpenCV lists RETR_LIST contours last-found first.
    sets.reverse();
    sets
}

/// Convex hull (monotone chain), counter-clockwise in image coordinates
/// (x right, y down), starting at the lowest-x (then lowest-y) point;
/// collinear points dropped.
pub fn convex_hull(points: &[[f32; 2]]) -> Vec<P32> {
    let mut pts: Vec<P32> = points.to_vec();
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let cross = |o: P32, a: P32, b: P32| -> f64 {
        (f64::from(a[0]) - f64::from(o[0])) * (f64::from(b[1]) - f64::from(o[1]))
            - (f64::from(a[1]) - f64::from(o[1])) * (f64::from(b[0]) - f64::from(o[0]))
    };
    let mut lower: Vec<P32> = Vec::new();
    for &p in &pts {
        while lower.len() >= 2 && cross(lower[lower.len() - 2], lower[lower.len() - 1], p) <= 0.0 {
            lower.pop();
        }
        lower.push(p);
    }
    let mut upper: Vec<P32> = Vec::new();
    for &p in pts.iter().rev() {
        while upper.len() >= 2 && cross(upper[upper.len() - 2], upper[upper.len() - 1], p) <= 0.0 {
            upper.pop();
        }
        upper.push(p);
    }
    lower.pop();
    upper.pop();
    lower.extend(upper);
    lower
}

/// `cv2.minAreaRect` result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RotatedRect {
    pub center: P32,
    pub size: [f32; 2],
    /// Degrees.
    pub angle: f32,
}

/// OpenCV's `rotatingCalipers(.., CALIPERS_MINAREARECT)` on a convex polygon
/// (float32 arithmetic as in the C++ source). Returns `[corner, side1, side2]`.
fn rotating_calipers(points: &[P32]) -> Option<[P32; 3]> {
    let n = points.len();
    if n < 3 {
        return None;
    }
    let mut vect = vec![[0f32; 2]; n];
    let mut inv_len = vec![0f32; n];
    let (mut left, mut bottom, mut right, mut top) = (0usize, 0usize, 0usize, 0usize);
    let mut pt0 = points[0];
    let (mut left_x, mut right_x, mut top_y, mut bottom_y) = (pt0[0], pt0[0], pt0[1], pt0[1]);
    for i in 0..n {
        if pt0[0] < left_x {
            left_x = pt0[0];
            left = i;
        }
        if pt0[0] > right_x {
            right_x = pt0[0];
            right = i;
        }
        if pt0[1] > top_y {
            top_y = pt0[1];
            top = i;
        }
        if pt0[1] < bottom_y {
            bottom_y = pt0[1];
            bottom = i;
        }
        let pt = points[if i + 1 < n { i + 1 } else { 0 }];
        let dx = f64::from(pt[0]) - f64::from(pt0[0]);
        let dy = f64::from(pt[1]) - f64::from(pt0[1]);
        vect[i] = [dx as f32, dy as f32];
        inv_len[i] = (1.0 / (dx * dx + dy * dy).sqrt()) as f32;
        pt0 = pt;
    }
    let mut orientation = 0f32;
    {
        let (mut ax, mut ay) = (f64::from(vect[n - 1][0]), f64::from(vect[n - 1][1]));
        for v in &vect {
            let (bx, by) = (f64::from(v[0]), f64::from(v[1]));
            let convexity = ax * by - ay * bx;
            if convexity != 0.0 {
                orientation = if convexity > 0.0 { 1.0 } else { -1.0 };
                break;
            }
            ax = bx;
            ay = by;
        }
    }
    if orientation == 0.0 {
        return None;
    }
    let mut base_a = orientation;
    let mut base_b = 0f32;
    let mut seq = [bottom, right, top, left];
    let mut minarea = f32::MAX;
    let mut best: Option<(usize, f32, f32, f32, f32, usize)> = None;
    for _ in 0..n {
        let dp = [
            base_a * vect[seq[0]][0] + base_b * vect[seq[0]][1],
            -base_b * vect[seq[1]][0] + base_a * vect[seq[1]][1],
            -base_a * vect[seq[2]][0] - base_b * vect[seq[2]][1],
            base_b * vect[seq[3]][0] - base_a * vect[seq[3]][1],
        ];
        let mut maxcos = dp[0] * inv_len[seq[0]];
        let mut main = 0usize;
        for i in 1..4 {
            let c = dp[i] * inv_len[seq[i]];
            if c > maxcos {
                main = i;
                maxcos = c;
            }
        }
        let p = seq[main];
        let lead_x = vect[p][0] * inv_len[p];
        let lead_y = vect[p][1] * inv_len[p];
        (base_a, base_b) = match main {
            0 => (lead_x, lead_y),
            1 => (lead_y, -lead_x),
            2 => (-lead_x, -lead_y),
            _ => (-lead_y, lead_x),
        };
        seq[main] = if seq[main] + 1 == n { 0 } else { seq[main] + 1 };
        let dx = points[seq[1]][0] - points[seq[3]][0];
        let dy = points[seq[1]][1] - points[seq[3]][1];
        let width = dx * base_a + dy * base_b;
        let dx = points[seq[2]][0] - points[seq[0]][0];
        let dy = points[seq[2]][1] - points[seq[0]][1];
        let height = -dx * base_b + dy * base_a;
        let area = width * height;
        if area <= minarea {
            minarea = area;
            best = Some((seq[3], base_a, width, base_b, height, seq[0]));
        }
    }
    let (li, a1, width, b1, height, bi) = best?;
    let (a2, b2) = (-b1, a1);
    let c1 = a1 * points[li][0] + points[li][1] * b1;
    let c2 = a2 * points[bi][0] + points[bi][1] * b2;
    let idet = 1.0f32 / (a1 * b2 - a2 * b1);
    let px = (c1 * b2 - c2 * b1) * idet;
    let py = (a1 * c2 - a2 * c1) * idet;
    Some([[px, py], [a1 * width, b1 * width], [a2 * height, b2 * height]])
}

/// `cv2.minAreaRect(points)`.
pub fn min_area_rect(points: &[[f32; 2]]) -> RotatedRect {
    let hull = convex_hull(points);
    let mut r = RotatedRect { center: [0.0, 0.0], size: [0.0, 0.0], angle: 0.0 };
    if hull.len() > 2 {
        if let Some([o, s1, s2]) = rotating_calipers(&hull) {
            r.center = [o[0] + (s1[0] + s2[0]) * 0.5, o[1] + (s1[1] + s2[1]) * 0.5];
            let (x1, y1) = (f64::from(s1[0]), f64::from(s1[1]));
            let (x2, y2) = (f64::from(s2[0]), f64::from(s2[1]));
            r.size = [(x1 * x1 + y1 * y1).sqrt() as f32, (x2 * x2 + y2 * y2).sqrt() as f32];
            r.angle = y1.atan2(x1) as f32;
        }
    } else if hull.len() == 2 {
        let (a, b) = (hull[0], hull[1]);
        r.center = [(a[0] + b[0]) * 0.5, (a[1] + b[1]) * 0.5];
        let dx = f64::from(b[0]) - f64::from(a[0]);
        let dy = f64::from(b[1]) - f64::from(a[1]);
        r.size = [(dx * dx + dy * dy).sqrt() as f32, 0.0];
        r.angle = dy.atan2(dx) as f32;
    } else if let Some(p) = hull.first() {
        r.center = *p;
    }
    r.angle = (f64::from(r.angle) * 180.0 / std::f64::consts::PI) as f32;
    r
}

/// `cv2.boxPoints(rect)`.
pub fn box_points(r: &RotatedRect) -> [P32; 4] {
    let angle = f64::from(r.angle) * std::f64::consts::PI / 180.0;
    let b = angle.cos() as f32 * 0.5;
    let a = angle.sin() as f32 * 0.5;
    let [cx, cy] = r.center;
    let [w, h] = r.size;
    let p0 = [cx - a * h - b * w, cy + b * h - a * w];
    let p1 = [cx + a * h - b * w, cy - b * h - a * w];
    let p2 = [2.0 * cx - p0[0], 2.0 * cy - p0[1]];
    let p3 = [2.0 * cx - p1[0], 2.0 * cy - p1[1]];
    [p0, p1, p2, p3]
}

/// `get_mini_boxes`: the min-area rectangle as (top-left, top-right,
/// bottom-right, bottom-left) and its shorter side.
pub fn get_mini_boxes(points: &[[f32; 2]]) -> ([P32; 4], f32) {
    let rect = min_area_rect(points);
    let mut pts = box_points(&rect).to_vec();
    // Python's stable `sorted(.., key=x)`.
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let (i1, i4) = if pts[1][1] > pts[0][1] { (0, 1) } else { (1, 0) };
    let (i2, i3) = if pts[3][1] > pts[2][1] { (2, 3) } else { (3, 2) };
    ([pts[i1], pts[i2], pts[i3], pts[i4]], rect.size[0].min(rect.size[1]))
}

/// Fills a polygon (int vertices) into a mask of `w × h` (`cv2.fillPoly`,
/// boundary included) — used to average the probability map.
fn fill_poly(poly: &[[i64; 2]], w: usize, h: usize) -> Vec<bool> {
    let mut mask = vec![false; w * h];
    if poly.is_empty() {
        return mask;
    }
    let n = poly.len();
    for y in 0..h {
        let yf = y as f64;
        let mut xs: Vec<f64> = Vec::new();
        for i in 0..n {
            let (a, b) = (poly[i], poly[(i + 1) % n]);
            let (ay, by) = (a[1] as f64, b[1] as f64);
            let (ax, bx) = (a[0] as f64, b[0] as f64);
            if (ay <= yf && yf <= by) || (by <= yf && yf <= ay) {
                if ay == by {
                    xs.push(ax);
                    xs.push(bx);
                } else {
                    xs.push(ax + (yf - ay) * (bx - ax) / (by - ay));
                }
            }
        }
        if xs.is_empty() {
            continue;
        }
        let lo = xs.iter().copied().fold(f64::INFINITY, f64::min).round();
        let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max).round();
        let (lo, hi) = (lo.max(0.0) as usize, hi.min(w as f64 - 1.0));
        if hi < 0.0 {
            continue;
        }
        for x in lo..=(hi as usize) {
            if let Some(m) = mask.get_mut(y * w + x) {
                *m = true;
            }
        }
    }
    mask
}

/// `box_score_fast`: mean probability inside the box polygon.
pub fn box_score_fast(pred: &[f32], w: usize, h: usize, quad: &[P32; 4]) -> f64 {
    if w == 0 || h == 0 {
        return 0.0;
    }
    let clampi = |v: f32, hi: usize| (v as i64).clamp(0, hi as i64 - 1) as usize;
    let xmin = clampi(quad.iter().map(|p| p[0]).fold(f32::INFINITY, f32::min).floor(), w);
    let xmax = clampi(quad.iter().map(|p| p[0]).fold(f32::NEG_INFINITY, f32::max).ceil(), w);
    let ymin = clampi(quad.iter().map(|p| p[1]).fold(f32::INFINITY, f32::min).floor(), h);
    let ymax = clampi(quad.iter().map(|p| p[1]).fold(f32::NEG_INFINITY, f32::max).ceil(), h);
    let (bw, bh) = (xmax + 1 - xmin.min(xmax + 1), ymax + 1 - ymin.min(ymax + 1));
    let poly: Vec<[i64; 2]> = quad.iter().map(|p| [(p[0] - xmin as f32) as i64, (p[1] - ymin as f32) as i64]).collect();
    let mask = fill_poly(&poly, bw, bh);
    let (mut sum, mut count) = (0.0f64, 0usize);
    for y in 0..bh {
        for x in 0..bw {
            if mask.get(y * bw + x).copied().unwrap_or(false) {
                sum += f64::from(pred.get((ymin + y) * w + xmin + x).copied().unwrap_or(0.0));
                count += 1;
            }
        }
    }
    if count == 0 { 0.0 } else { sum / count as f64 }
}

/// Clipper's unit normal of the edge `a → b`.
fn unit_normal(a: [i64; 2], b: [i64; 2]) -> [f64; 2] {
    if a == b {
        return [0.0, 0.0];
    }
    let dx = (b[0] - a[0]) as f64;
    let dy = (b[1] - a[1]) as f64;
    let f = 1.0 / (dx * dx + dy * dy).sqrt();
    [dy * f, -dx * f]
}

/// `unclip`: offsets the box outward by `area * ratio / perimeter` with
/// round joins (Clipper `JT_ROUND`, `ET_CLOSEDPOLYGON`, arc tolerance 0.25).
pub fn unclip(quad: &[P32; 4], ratio: f64) -> Vec<[f32; 2]> {
    // Shapely area and length on the float points.
    let pts: Vec<[f64; 2]> = quad.iter().map(|p| [f64::from(p[0]), f64::from(p[1])]).collect();
    let mut area2 = 0.0;
    let mut length = 0.0;
    for i in 0..4 {
        let (a, b) = (pts[i], pts[(i + 1) % 4]);
        area2 += a[0] * b[1] - b[0] * a[1];
        length += ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
    }
    let area = area2.abs() / 2.0;
    if length == 0.0 {
        return Vec::new();
    }
    let delta = area * ratio / length;
    // pyclipper truncates coordinates to integers.
    let mut poly: Vec<[i64; 2]> = quad.iter().map(|p| [p[0] as i64, p[1] as i64]).collect();
    poly.dedup();
    while poly.len() > 1 && poly.first() == poly.last() {
        poly.pop();
    }
    if poly.len() < 3 {
        return Vec::new();
    }
    // Orientation: Clipper wants the outer polygon with positive area.
    let signed: f64 = (0..poly.len())
        .map(|i| {
            let (a, b) = (poly[i], poly[(i + 1) % poly.len()]);
            (a[0] * b[1] - b[0] * a[1]) as f64
        })
        .sum();
    if signed < 0.0 {
        poly.reverse();
    }
    let len = poly.len();
    let normals: Vec<[f64; 2]> = (0..len).map(|j| unit_normal(poly[j], poly[(j + 1) % len])).collect();
    let arc_tol = if 0.25 > delta.abs() * 0.25 { delta.abs() * 0.25 } else { 0.25 };
    let mut steps = std::f64::consts::PI / (1.0 - arc_tol / delta.abs()).acos();
    if steps > delta.abs() * std::f64::consts::PI {
        steps = delta.abs() * std::f64::consts::PI;
    }
    let two_pi = 2.0 * std::f64::consts::PI;
    let (sin, cos) = ((two_pi / steps).sin(), (two_pi / steps).cos());
    let steps_per_rad = steps / two_pi;
    let round = |v: f64| -> i64 { if v < 0.0 { (v - 0.5) as i64 } else { (v + 0.5) as i64 } };
    let mut out: Vec<[i64; 2]> = Vec::new();
    let mut k = len - 1;
    for j in 0..len {
        let (nk, nj, p) = (normals[k], normals[j], poly[j]);
        let mut sin_a = nk[0] * nj[1] - nj[0] * nk[1];
        let pt = |n: [f64; 2]| [round(p[0] as f64 + n[0] * delta), round(p[1] as f64 + n[1] * delta)];
        if (sin_a * delta).abs() < 1.0 {
            let cos_a = nk[0] * nj[0] + nj[1] * nk[1];
            if cos_a > 0.0 {
                out.push(pt(nk));
                k = j;
                continue;
            }
        } else {
            sin_a = sin_a.clamp(-1.0, 1.0);
        }
        if sin_a * delta < 0.0 {
            out.push(pt(nk));
            out.push(p);
            out.push(pt(nj));
        } else {
            let a = sin_a.atan2(nk[0] * nj[0] + nk[1] * nj[1]);
            let n_steps = round(steps_per_rad * a.abs()).max(1);
            let (mut x, mut y) = (nk[0], nk[1]);
            for _ in 0..n_steps {
                out.push([round(p[0] as f64 + x * delta), round(p[1] as f64 + y * delta)]);
                let x2 = x;
                x = x * cos - sin * y;
                y = x2 * sin + y * cos;
            }
            out.push(pt(nj));
        }
        k = j;
    }
    out.iter().map(|p| [p[0] as f32, p[1] as f32]).collect()
}
