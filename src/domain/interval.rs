//! A suggested next calibration interval from an instrument's as-found history, by the
//! "staircase" (automatic adjustment, calendar time) method of OIML D10:2007 / ILAC-G24 method 1:
//! each time the instrument comes in for routine calibration, the next interval is lengthened if
//! it was found in tolerance and shortened if it was found out of tolerance.
//!
//! D10 leaves the step sizes to the laboratory. The defaults here ([`Staircase::default`]):
//!
//! - **+25 % after an in-tolerance as-found.** Small steps, because one good result is weak
//!   evidence about drift; three passes in a row roughly double the interval (1.25³ ≈ 1.95).
//! - **−50 % after an out-of-tolerance as-found.** Large steps, because the costs are not
//!   symmetric: every result the instrument produced since its last good calibration is now
//!   suspect and must be reviewed (ISO/IEC 17025 7.10, the impact analysis), so one failure
//!   undoes about three passes and a second halves again. D10 warns that the method reacts
//!   slowly; shortening hard is how it reacts fast where it matters.
//! - **Bounded to [configured / 4, configured × 2].** The configured interval is the lab's
//!   engineering judgement (manufacturer's advice, procedure, regulation); D10 expects any method
//!   to stay near it until enough history accrues, and a statistical method (D10 methods 3–5),
//!   not a staircase, to justify going further. A floor keeps a repeatedly failing instrument
//!   from a nonsensical interval of days: it should be repaired or retired, not calibrated weekly.
//!
//! Each step is rounded to whole days (half away from zero) and clamped to the bounds, because
//! that is the interval that would actually have been assigned at that calibration: a run of
//! passes stops at the ceiling rather than building up credit a later failure would have to use
//! up. A step also moves by at least one day, so that a one-day interval (where 25 % rounds to
//! nothing) can still lengthen.
//! The result is a suggestion for the quality manager, never applied automatically.

/// The step sizes and bounds of the staircase.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Staircase {
    /// Factor applied after an as-found in tolerance (> 1).
    pub lengthen_factor: f64,
    /// Factor applied after an as-found out of tolerance (< 1).
    pub shorten_factor: f64,
    /// Shortest suggestion, as a fraction of the configured interval.
    pub shortest_fraction: f64,
    /// Longest suggestion, as a multiple of the configured interval.
    pub longest_multiple: f64,
}

impl Default for Staircase {
    fn default() -> Self {
        Staircase {
            lengthen_factor: 1.25,
            shorten_factor: 0.5,
            shortest_fraction: 0.25,
            longest_multiple: 2.0,
        }
    }
}

impl Staircase {
    /// The bounds in whole days for a configured interval: never below one day, and the floor
    /// rounded up and the ceiling rounded down so both stay inside the stated fractions.
    pub fn bounds_days(&self, configured_days: i32) -> (i32, i32) {
        let configured = f64::from(configured_days.max(1));
        let shortest = (configured * self.shortest_fraction).ceil().max(1.0);
        let longest = (configured * self.longest_multiple).floor().max(shortest);
        (to_days(shortest), to_days(longest))
    }

    /// The interval that would have been assigned after each calibration of the history
    /// (oldest first), starting from the configured interval. Its last element is the
    /// suggestion; it is empty when there is no history.
    pub fn steps(&self, configured_days: i32, as_found_in_tolerance_history: &[bool]) -> Vec<i32> {
        let (shortest, longest) = self.bounds_days(configured_days);
        let mut interval = configured_days.max(1);
        as_found_in_tolerance_history
            .iter()
            .map(|&in_tolerance| {
                let current = f64::from(interval);
                let next = if in_tolerance {
                    (current * self.lengthen_factor).round().max(current + 1.0)
                } else {
                    (current * self.shorten_factor).round().min(current - 1.0)
                };
                interval = to_days(next).clamp(shortest, longest);
                interval
            })
            .collect()
    }

    /// The suggested next interval in days; the configured interval when there is no history.
    pub fn suggest_days(
        &self,
        configured_days: i32,
        as_found_in_tolerance_history: &[bool],
    ) -> i32 {
        self.steps(configured_days, as_found_in_tolerance_history)
            .last()
            .copied()
            .unwrap_or(configured_days.max(1))
    }
}

fn to_days(days: f64) -> i32 {
    if days.is_nan() {
        1
    } else {
        days.clamp(1.0, f64::from(i32::MAX)) as i32
    }
}

/// The suggested next calibration interval in days, by the default [`Staircase`], from the
/// configured interval and the as-found results of the instrument's calibrations on record in
/// date order, oldest first (`true`: as found in tolerance). A configured interval below one
/// day is taken as one day.
pub fn suggest_interval_days(configured_days: i32, as_found_in_tolerance_history: &[bool]) -> i32 {
    Staircase::default().suggest_days(configured_days, as_found_in_tolerance_history)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PASS: bool = true;
    const FAIL: bool = false;

    #[test]
    fn no_history_keeps_the_configured_interval() {
        assert_eq!(suggest_interval_days(365, &[]), 365);
        assert!(Staircase::default().steps(365, &[]).is_empty());
    }

    #[test]
    fn passes_lengthen_up_to_twice_the_configured_interval() {
        // 365 → 456.25 → 456 → 570 → 712.5 → 713 → 891.25, capped at 730
        let s = Staircase::default();
        assert_eq!(
            s.steps(365, &[PASS, PASS, PASS, PASS, PASS]),
            vec![456, 570, 713, 730, 730]
        );
        assert_eq!(suggest_interval_days(365, &[PASS]), 456);
        assert_eq!(suggest_interval_days(365, &[PASS; 20]), 730);
    }

    #[test]
    fn failures_shorten_down_to_a_quarter() {
        // 365 → 182.5 → 183 → 91.5 → 92, floor ⌈91.25⌉ = 92 → stays 92
        let s = Staircase::default();
        assert_eq!(s.steps(365, &[FAIL, FAIL, FAIL]), vec![183, 92, 92]);
        assert_eq!(suggest_interval_days(365, &[FAIL; 10]), 92);
    }

    #[test]
    fn mixed_history_hand_worked() {
        // 180: pass 225, pass 281.25 → 281, fail 140.5 → 141, pass 176.25 → 176, pass 220
        let s = Staircase::default();
        assert_eq!(
            s.steps(180, &[PASS, PASS, FAIL, PASS, PASS]),
            vec![225, 281, 141, 176, 220]
        );
        assert_eq!(
            suggest_interval_days(180, &[PASS, PASS, FAIL, PASS, PASS]),
            220
        );
        // Capped credit: after reaching the ceiling, one fail halves from the ceiling.
        // 365: 456, 570, 713, 730, 730, fail → 365
        assert_eq!(
            suggest_interval_days(365, &[PASS, PASS, PASS, PASS, PASS, FAIL]),
            365
        );
        // Floor then recovery: 365: 183, 92, 92, pass 115, pass 143.75 → 144
        assert_eq!(
            s.steps(365, &[FAIL, FAIL, FAIL, PASS, PASS]),
            vec![183, 92, 92, 115, 144]
        );
    }

    #[test]
    fn the_order_of_the_history_matters() {
        // 100: pass 125, fail 62.5 → 63 (half away from zero)
        assert_eq!(suggest_interval_days(100, &[PASS, FAIL]), 63);
        // 100: fail 50, pass 62.5 → 63
        assert_eq!(suggest_interval_days(100, &[FAIL, PASS]), 63);
        // 90: pass 112.5 → 113, fail 56.5 → 57; fail 45, pass 56.25 → 56
        assert_eq!(suggest_interval_days(90, &[PASS, FAIL]), 57);
        assert_eq!(suggest_interval_days(90, &[FAIL, PASS]), 56);
    }

    #[test]
    fn short_configured_intervals_never_reach_zero_days() {
        assert_eq!(Staircase::default().bounds_days(1), (1, 2));
        assert_eq!(suggest_interval_days(1, &[FAIL, FAIL]), 1);
        assert_eq!(suggest_interval_days(1, &[PASS, PASS, PASS]), 2);
        assert_eq!(suggest_interval_days(3, &[FAIL, FAIL]), 1);
        assert_eq!(suggest_interval_days(0, &[]), 1);
        assert_eq!(suggest_interval_days(-30, &[PASS]), 2);
    }

    #[test]
    fn bounds_stay_inside_the_stated_fractions() {
        let s = Staircase::default();
        assert_eq!(s.bounds_days(365), (92, 730));
        assert_eq!(s.bounds_days(30), (8, 60));
        assert_eq!(s.bounds_days(i32::MAX).1, i32::MAX);
    }

    #[test]
    fn another_policy() {
        let gentle = Staircase {
            lengthen_factor: 1.1,
            shorten_factor: 0.8,
            shortest_fraction: 0.5,
            longest_multiple: 1.5,
        };
        // 100: 110, 121, fail 96.8 → 97
        assert_eq!(gentle.steps(100, &[PASS, PASS, FAIL]), vec![110, 121, 97]);
        assert_eq!(gentle.suggest_days(100, &[PASS; 10]), 150);
        assert_eq!(gentle.suggest_days(100, &[FAIL; 10]), 50);
    }

    proptest! {
        #[test]
        fn suggestion_stays_within_bounds(
            configured in 1i32..5000,
            history in prop::collection::vec(any::<bool>(), 0..30),
        ) {
            let (lo, hi) = Staircase::default().bounds_days(configured);
            let s = suggest_interval_days(configured, &history);
            prop_assert!(lo <= s && s <= hi, "{} not in [{}, {}]", s, lo, hi);
            prop_assert!(lo >= 1);
        }

        #[test]
        fn a_pass_never_shortens_and_a_fail_never_lengthens(
            configured in 1i32..5000,
            history in prop::collection::vec(any::<bool>(), 0..30),
        ) {
            let before = suggest_interval_days(configured, &history);
            let mut with_pass = history.clone();
            with_pass.push(true);
            let mut with_fail = history.clone();
            with_fail.push(false);
            prop_assert!(suggest_interval_days(configured, &with_pass) >= before);
            prop_assert!(suggest_interval_days(configured, &with_fail) <= before);
        }

        #[test]
        fn turning_a_fail_into_a_pass_never_shortens_the_suggestion(
            configured in 1i32..5000,
            history in prop::collection::vec(any::<bool>(), 1..30),
            index in any::<prop::sample::Index>(),
        ) {
            let i = index.index(history.len());
            let mut better = history.clone();
            better[i] = true;
            prop_assert!(
                suggest_interval_days(configured, &better) >= suggest_interval_days(configured, &history)
            );
        }
    }
}
