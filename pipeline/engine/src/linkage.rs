//! Record linkage weights (issue #28): the Fellegi-Sunter model, estimated from a batch's own
//! comparison vectors by expectation-maximisation, as Splink does.
//!
//! A candidate pair (a record whose subject's ID does not read, and a declared member its ID
//! is one slip from: `hedui_schemas::id::one_edit_away`) is compared field by field (name,
//! birth date, gender, region, ...); each field agrees or not. The model says a field agrees
//! with probability `m` among true matches and `u` among non-matches, fields independently
//! given the class, and a share `lambda` of pairs are matches. [`estimate`] fits the three
//! from the counts of each agreement pattern, without labels; [`Model::weight`] is a pattern's
//! match weight, the sum over fields of log2(m/u) where it agrees and log2((1-m)/(1-u)) where it
//! does not: the evidence for a match in bits. The arithmetic runs in one fixed order, so the
//! same counts give the same weights bit for bit.
//!
//! The linkage stage (`link.rs`) fits `u` the way Splink does, from pairs drawn at random
//! (nearly all non-matches), and then `m` and `lambda` by EM over the candidate pairs with `u`
//! held ([`estimate_m`]): among candidates that share a name and nearly an ID almost every pair
//! is a match, which leaves plain EM ([`estimate`]) little to learn `u` from.

/// A fitted Fellegi-Sunter model over some comparison fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The share of candidate pairs that are matches.
    pub lambda: f64,
    /// Per field: P(agrees | match).
    pub m: Vec<f64>,
    /// Per field: P(agrees | non-match).
    pub u: Vec<f64>,
    /// EM iterations run.
    pub iterations: usize,
    /// Whether the estimates settled (changed by less than [`TOLERANCE`]) before
    /// [`MAX_ITERATIONS`].
    pub converged: bool,
}

/// Iterations after which EM stops, settled or not.
pub const MAX_ITERATIONS: usize = 500;
/// The largest change of any estimate between iterations at which EM stops.
pub const TOLERANCE: f64 = 1e-10;
/// Bit `MISSING_SHIFT + i` of a pattern marks field `i` as missing (a value one side does not
/// have: a birth date from an ID too short to hold one, a region from a source without one):
/// it is neither agreement nor disagreement, weighs nothing and is left out of the estimates,
/// as Splink treats a null.
pub const MISSING_SHIFT: u32 = 16;

/// Whether field `i` of `pattern` is missing.
fn missing(pattern: u32, i: usize) -> bool {
    pattern & (1 << (MISSING_SHIFT as usize + i)) != 0
}

/// Probabilities are kept in [FLOOR, 1 - FLOOR]: a field that always agrees would otherwise
/// give an infinite weight.
const FLOOR: f64 = 1e-6;

/// What the E-step finds: the pairs' expected matches in all, and per field the matched and
/// unmatched weight of the pairs that agree on it and of those where it is not missing.
struct Expected {
    matched: f64,
    m_agree: Vec<f64>,
    u_agree: Vec<f64>,
    m_seen: Vec<f64>,
    u_seen: Vec<f64>,
}

/// The E-step: each pattern's probability of being a match under `model`, summed.
fn expect(model: &Model, patterns: &[(u32, u64)]) -> Expected {
    let fields = model.m.len();
    let agrees = |p: u32, i: usize| p & (1 << i) != 0;
    let mut e = Expected {
        matched: 0.0,
        m_agree: vec![0.0; fields],
        u_agree: vec![0.0; fields],
        m_seen: vec![0.0; fields],
        u_seen: vec![0.0; fields],
    };
    for &(p, count) in patterns {
        let (mut pm, mut pu) = (model.lambda, 1.0 - model.lambda);
        for i in (0..fields).filter(|i| !missing(p, *i)) {
            if agrees(p, i) {
                pm *= model.m[i];
                pu *= model.u[i];
            } else {
                pm *= 1.0 - model.m[i];
                pu *= 1.0 - model.u[i];
            }
        }
        let w = pm / (pm + pu);
        let c = count as f64;
        e.matched += c * w;
        for i in (0..fields).filter(|i| !missing(p, *i)) {
            e.m_seen[i] += c * w;
            e.u_seen[i] += c * (1.0 - w);
            if agrees(p, i) {
                e.m_agree[i] += c * w;
                e.u_agree[i] += c * (1.0 - w);
            }
        }
    }
    e
}

/// Fits the model to `patterns`: each an agreement pattern over `fields` fields (bit i set
/// when field i agrees) and how many candidate pairs show it. Starts from m = 0.9, u = 0.1
/// and lambda = 0.5, so the class that agrees more is the match class. `None` when there is
/// nothing to fit (no pairs, or no fields).
pub fn estimate(patterns: &[(u32, u64)], fields: usize) -> Option<Model> {
    let total: f64 = patterns.iter().map(|(_, c)| *c as f64).sum();
    if total == 0.0 || fields == 0 || fields > MISSING_SHIFT as usize {
        return None;
    }
    let mut model = Model::start(vec![0.1; fields]);
    while model.iterations < MAX_ITERATIONS {
        model.iterations += 1;
        // E-step: each pattern's probability of being a match.
        let Expected {
            matched,
            m_agree,
            u_agree,
            m_seen,
            u_seen,
        } = expect(&model, patterns);
        // M-step.
        let clamp = |x: f64| x.clamp(FLOOR, 1.0 - FLOOR);
        let lambda = clamp(matched / total);
        let share = |a: &f64, seen: &f64| clamp(if *seen > 0.0 { a / seen } else { 0.5 });
        let m: Vec<f64> = m_agree
            .iter()
            .zip(&m_seen)
            .map(|(a, s)| share(a, s))
            .collect();
        let u: Vec<f64> = u_agree
            .iter()
            .zip(&u_seen)
            .map(|(a, s)| share(a, s))
            .collect();
        let change = m
            .iter()
            .zip(&model.m)
            .chain(u.iter().zip(&model.u))
            .map(|(a, b)| (a - b).abs())
            .fold((lambda - model.lambda).abs(), f64::max);
        model.lambda = lambda;
        model.m = m;
        model.u = u;
        if change < TOLERANCE {
            model.converged = true;
            break;
        }
    }
    Some(model)
}

/// Fits `m` and `lambda` to `patterns` by EM with `u` held at the values given (estimated
/// elsewhere: from random pairs). `None` when there is nothing to fit.
pub fn estimate_m(patterns: &[(u32, u64)], u: &[f64]) -> Option<Model> {
    let fields = u.len();
    let total: f64 = patterns.iter().map(|(_, c)| *c as f64).sum();
    if total == 0.0 || fields == 0 || fields > MISSING_SHIFT as usize {
        return None;
    }
    let clamp = |x: f64| x.clamp(FLOOR, 1.0 - FLOOR);
    let mut model = Model::start(u.iter().map(|x| clamp(*x)).collect());
    while model.iterations < MAX_ITERATIONS {
        model.iterations += 1;
        let Expected {
            matched,
            m_agree,
            m_seen,
            ..
        } = expect(&model, patterns);
        // (m with one agreeing and one disagreeing pair added, as u is: a field every
        // candidate so far agreed on must not make one slip there a certain non-match.)
        let lambda = clamp(matched / total);
        let m: Vec<f64> = m_agree
            .iter()
            .zip(&m_seen)
            .map(|(a, seen)| clamp((a + 1.0) / (seen + 2.0)))
            .collect();
        let change = m
            .iter()
            .zip(&model.m)
            .map(|(a, b)| (a - b).abs())
            .fold((lambda - model.lambda).abs(), f64::max);
        model.lambda = lambda;
        model.m = m;
        if change < TOLERANCE {
            model.converged = true;
            break;
        }
    }
    Some(model)
}

impl Model {
    /// Where EM starts: half the pairs matches, `m` 0.9 for every field, `u` as given.
    fn start(u: Vec<f64>) -> Self {
        Model {
            lambda: 0.5,
            m: vec![0.9; u.len()],
            u,
            iterations: 0,
            converged: false,
        }
    }

    /// A pattern's match weight in bits: positive is evidence for a match.
    pub fn weight(&self, pattern: u32) -> f64 {
        (0..self.m.len())
            .filter(|i| !missing(pattern, *i))
            .map(|i| {
                if pattern & (1 << i) != 0 {
                    (self.m[i] / self.u[i]).log2()
                } else {
                    ((1.0 - self.m[i]) / (1.0 - self.u[i])).log2()
                }
            })
            .sum()
    }

    /// Field `i`'s weight in bits when it agrees (or not).
    pub fn weight_of(&self, i: usize, agrees: bool) -> f64 {
        if agrees {
            (self.m[i] / self.u[i]).log2()
        } else {
            ((1.0 - self.m[i]) / (1.0 - self.u[i])).log2()
        }
    }

    /// A pattern's probability of being a match, from its weight and the prior `lambda`.
    pub fn probability(&self, pattern: u32) -> f64 {
        let prior = (self.lambda / (1.0 - self.lambda)).log2();
        let odds = (prior + self.weight(pattern)).exp2();
        odds / (1.0 + odds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pattern counts for `n` pairs drawn exactly from a model (expected counts, rounded).
    fn counts(n: f64, lambda: f64, m: &[f64], u: &[f64]) -> Vec<(u32, u64)> {
        (0..1u32 << m.len())
            .map(|p| {
                let (mut pm, mut pu) = (lambda, 1.0 - lambda);
                for i in 0..m.len() {
                    let a = p & (1 << i) != 0;
                    pm *= if a { m[i] } else { 1.0 - m[i] };
                    pu *= if a { u[i] } else { 1.0 - u[i] };
                }
                (p, (n * (pm + pu)).round() as u64)
            })
            .collect()
    }

    #[test]
    fn em_recovers_the_parameters_the_pairs_were_drawn_from() {
        // Name, birth date, gender, region: a tenth of the candidates are the person.
        let (lambda, m, u) = (0.1, [0.95, 0.9, 0.99, 0.85], [0.02, 0.05, 0.5, 0.2]);
        let model = estimate(&counts(1e7, lambda, &m, &u), 4).unwrap();
        assert!(model.converged, "{model:?}");
        assert!((model.lambda - lambda).abs() < 1e-3, "{model:?}");
        for i in 0..4 {
            assert!((model.m[i] - m[i]).abs() < 1e-2, "m[{i}]: {model:?}");
            assert!((model.u[i] - u[i]).abs() < 1e-2, "u[{i}]: {model:?}");
        }
        // All agree: strong evidence for; all disagree: strong evidence against.
        assert!(model.weight(0b1111) > 10.0 && model.weight(0) < -10.0);
        assert!(model.probability(0b1111) > 0.99 && model.probability(0) < 0.001);
        // Name and birth date agreeing outweigh gender alone.
        assert!(model.weight(0b0011) > model.weight(0b0100));
    }

    #[test]
    fn the_same_counts_give_the_same_weights_and_nothing_gives_none() {
        let c = counts(5e4, 0.3, &[0.9, 0.8], &[0.1, 0.3]);
        let (a, b) = (estimate(&c, 2).unwrap(), estimate(&c, 2).unwrap());
        assert_eq!(a, b);
        assert_eq!(
            a.weight(0b11).to_bits(),
            b.weight(0b11).to_bits(),
            "bit for bit"
        );
        assert!(estimate(&[], 2).is_none());
        assert!(estimate(&[(0, 0)], 2).is_none());
        assert!(estimate(&c, 0).is_none());
    }

    #[test]
    fn with_u_known_em_recovers_m_and_lambda_even_when_nearly_all_pairs_match() {
        let (lambda, m, u) = (0.995, [0.97, 0.6, 0.9], [0.001, 0.02, 0.5]);
        let model = estimate_m(&counts(1e7, lambda, &m, &u), &u).unwrap();
        assert!(model.converged, "{model:?}");
        assert!((model.lambda - lambda).abs() < 1e-3, "{model:?}");
        for i in 0..3 {
            assert!((model.m[i] - m[i]).abs() < 1e-2, "m[{i}]: {model:?}");
            assert_eq!(model.u[i], u[i]);
        }
        assert!(estimate_m(&[], &u).is_none());
    }

    #[test]
    fn a_missing_field_weighs_nothing_and_is_left_out_of_the_estimates() {
        let (lambda, m, u) = (0.1, [0.95, 0.9, 0.99, 0.85], [0.02, 0.05, 0.5, 0.2]);
        let mut c = counts(1e7, lambda, &m, &u);
        // Pairs drawn from the same model whose last field nobody has: they say nothing of
        // it, and what they say of the others fits.
        let missing = 0b1000 << MISSING_SHIFT;
        c.extend(
            counts(3e6, lambda, &m[..3], &u[..3])
                .into_iter()
                .map(|(p, n)| (p | missing, n)),
        );
        let model = estimate(&c, 4).unwrap();
        for i in 0..4 {
            assert!((model.m[i] - m[i]).abs() < 1e-2, "m[{i}]: {model:?}");
            assert!((model.u[i] - u[i]).abs() < 1e-2, "u[{i}]: {model:?}");
        }
        let w = |p: u32| model.weight(p);
        assert_eq!(w(0b0111 | missing), w(0b0111) - model.weight_of(3, false));
        assert_eq!(w(missing), w(0) - model.weight_of(3, false));
    }

    #[test]
    fn a_field_that_always_agrees_gives_a_finite_weight() {
        let model = estimate(&[(0b1, 100), (0b11, 50)], 2).unwrap();
        assert!(model.weight(0b11).is_finite() && model.weight(0).is_finite());
    }
}
