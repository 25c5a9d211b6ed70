//! Pure LED pattern table, pattern timing and haptic cue definitions.

use std::time::Duration;

use super::Led;

const SLOW_HALF_PERIOD_MS: u128 = 500;
const FAST_HALF_PERIOD_MS: u128 = 125;
const FLASH_MS: u128 = 100;
const FLASH_END_MS: u128 = 3 * FLASH_MS;

/// How one LED is driven over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LedPattern {
    /// Dark.
    Off,
    /// Steadily lit.
    On,
    /// 1 Hz, 50 % duty cycle, starting lit.
    BlinkSlow,
    /// 4 Hz, 50 % duty cycle, starting lit.
    BlinkFast,
    /// Two 100 ms flashes (lit 0–100 ms and 200–300 ms), then dark.
    Flash,
}

impl LedPattern {
    /// Whether the LED is lit at `t` since the pattern started.
    pub fn level_at(&self, t: Duration) -> bool {
        let ms = t.as_millis();
        match self {
            LedPattern::Off => false,
            LedPattern::On => true,
            LedPattern::BlinkSlow => (ms / SLOW_HALF_PERIOD_MS).is_multiple_of(2),
            LedPattern::BlinkFast => (ms / FAST_HALF_PERIOD_MS).is_multiple_of(2),
            LedPattern::Flash => ms < FLASH_END_MS && (ms / FLASH_MS).is_multiple_of(2),
        }
    }

    /// The first time after `t` (since the pattern started) at which the level may
    /// change, or `None` if it never changes again.
    pub fn next_change_after(&self, t: Duration) -> Option<Duration> {
        let ms = t.as_millis();
        let step = |half: u128| (ms / half + 1) * half;
        let next_ms = match self {
            LedPattern::Off | LedPattern::On => return None,
            LedPattern::BlinkSlow => step(SLOW_HALF_PERIOD_MS),
            LedPattern::BlinkFast => step(FAST_HALF_PERIOD_MS),
            LedPattern::Flash if ms < FLASH_END_MS => step(FLASH_MS),
            LedPattern::Flash => return None,
        };
        u64::try_from(next_ms).ok().map(Duration::from_millis)
    }
}

/// The pattern of each of the three LEDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LedPatterns {
    /// Red LED (recording).
    pub red: LedPattern,
    /// Green LED (ready, docked, offload).
    pub green: LedPattern,
    /// Amber LED (warnings, faults).
    pub amber: LedPattern,
}

impl LedPatterns {
    /// All three LEDs dark.
    pub const OFF: LedPatterns = LedPatterns {
        red: LedPattern::Off,
        green: LedPattern::Off,
        amber: LedPattern::Off,
    };

    /// The pattern of one LED.
    pub fn get(&self, led: Led) -> LedPattern {
        match led {
            Led::Red => self.red,
            Led::Green => self.green,
            Led::Amber => self.amber,
        }
    }
}

/// The device state shown on the LEDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedMode {
    /// Starting up.
    Booting,
    /// Idle and ready to record.
    Ready,
    /// Recording.
    Recording,
    /// Finishing a recording.
    Stopping,
    /// No space left to record.
    StorageFull,
    /// The store cannot be written (read-only, missing, I/O errors).
    StorageFault,
    /// Something is broken.
    Fault,
    /// In the dock, idle.
    Docked,
    /// In the dock, uploading evidence.
    Offloading,
    /// In the dock, upload finished.
    OffloadComplete,
}

/// Everything that decides the LED patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedInputs {
    /// The device state.
    pub mode: LedMode,
    /// Storage is running low (warning, not yet full).
    pub storage_low: bool,
    /// A marker was just placed; flash the red LED.
    pub marker_flash: bool,
    /// Stealth mode: all indicators dark.
    pub stealth: bool,
}

/// The documented pattern table.
///
/// | mode              | red       | green     | amber     |
/// |-------------------|-----------|-----------|-----------|
/// | `Booting`         | Off       | BlinkFast | —         |
/// | `Ready`           | Off       | On        | —         |
/// | `Recording`       | On        | Off       | —         |
/// | `Stopping`        | BlinkFast | Off       | —         |
/// | `StorageFull`     | Off       | Off       | On        |
/// | `StorageFault`    | BlinkSlow | Off       | On        |
/// | `Fault`           | Off       | Off       | BlinkFast |
/// | `Docked`          | Off       | BlinkSlow | —         |
/// | `Offloading`      | Off       | BlinkFast | —         |
/// | `OffloadComplete` | Off       | On        | Off       |
///
/// "—" means the mode leaves amber free (Off unless a modifier sets it).
///
/// Modifiers, applied in this order:
///
/// | modifier       | effect                                                           |
/// |----------------|------------------------------------------------------------------|
/// | `storage_low`  | amber BlinkSlow, only where the mode leaves amber free ("—")     |
/// | `marker_flash` | red Flash, only in `Recording` (ignored in other modes)          |
/// | `stealth`      | everything Off (overrides all of the above)                      |
pub fn patterns_for(i: &LedInputs) -> LedPatterns {
    use LedPattern::{BlinkFast, BlinkSlow, Flash, Off, On};
    // (red, green, amber); amber None = left free by the mode.
    let (red, green, amber) = match i.mode {
        LedMode::Booting => (Off, BlinkFast, None),
        LedMode::Ready => (Off, On, None),
        LedMode::Recording => (On, Off, None),
        LedMode::Stopping => (BlinkFast, Off, None),
        LedMode::StorageFull => (Off, Off, Some(On)),
        LedMode::StorageFault => (BlinkSlow, Off, Some(On)),
        LedMode::Fault => (Off, Off, Some(BlinkFast)),
        LedMode::Docked => (Off, BlinkSlow, None),
        LedMode::Offloading => (Off, BlinkFast, None),
        LedMode::OffloadComplete => (Off, On, Some(Off)),
    };
    let amber = match amber {
        Some(p) => p,
        None if i.storage_low => BlinkSlow,
        None => Off,
    };
    let red = if i.marker_flash && i.mode == LedMode::Recording {
        Flash
    } else {
        red
    };
    if i.stealth {
        LedPatterns::OFF
    } else {
        LedPatterns { red, green, amber }
    }
}

/// A vibration cue felt by the officer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HapticCue {
    /// Two short pulses.
    RecordingStarted,
    /// One long pulse.
    RecordingStopped,
    /// One very short pulse.
    Marker,
    /// Three short pulses.
    Fault,
    /// Two long pulses: the store cannot be written.
    StorageFault,
}

const fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

impl HapticCue {
    /// The pulse sequence as (on time, off time after it) pairs.
    pub fn pulses(&self) -> &'static [(Duration, Duration)] {
        const STARTED: [(Duration, Duration); 2] = [(ms(150), ms(150)), (ms(150), ms(0))];
        const STOPPED: [(Duration, Duration); 1] = [(ms(600), ms(0))];
        const MARKER: [(Duration, Duration); 1] = [(ms(100), ms(0))];
        const FAULT: [(Duration, Duration); 3] =
            [(ms(100), ms(100)), (ms(100), ms(100)), (ms(100), ms(0))];
        const STORAGE_FAULT: [(Duration, Duration); 2] = [(ms(400), ms(200)), (ms(400), ms(0))];
        match self {
            HapticCue::RecordingStarted => &STARTED,
            HapticCue::RecordingStopped => &STOPPED,
            HapticCue::Marker => &MARKER,
            HapticCue::Fault => &FAULT,
            HapticCue::StorageFault => &STORAGE_FAULT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LedPattern::{BlinkFast, BlinkSlow, Flash, Off, On};
    use super::*;

    fn inputs(mode: LedMode) -> LedInputs {
        LedInputs {
            mode,
            storage_low: false,
            marker_flash: false,
            stealth: false,
        }
    }

    fn p(red: LedPattern, green: LedPattern, amber: LedPattern) -> LedPatterns {
        LedPatterns { red, green, amber }
    }

    const ALL_MODES: [LedMode; 10] = [
        LedMode::Booting,
        LedMode::Ready,
        LedMode::Recording,
        LedMode::Stopping,
        LedMode::StorageFull,
        LedMode::StorageFault,
        LedMode::Fault,
        LedMode::Docked,
        LedMode::Offloading,
        LedMode::OffloadComplete,
    ];

    #[test]
    fn every_mode_matches_the_table() {
        let table = [
            (LedMode::Booting, p(Off, BlinkFast, Off)),
            (LedMode::Ready, p(Off, On, Off)),
            (LedMode::Recording, p(On, Off, Off)),
            (LedMode::Stopping, p(BlinkFast, Off, Off)),
            (LedMode::StorageFull, p(Off, Off, On)),
            (LedMode::StorageFault, p(BlinkSlow, Off, On)),
            (LedMode::Fault, p(Off, Off, BlinkFast)),
            (LedMode::Docked, p(Off, BlinkSlow, Off)),
            (LedMode::Offloading, p(Off, BlinkFast, Off)),
            (LedMode::OffloadComplete, p(Off, On, Off)),
        ];
        assert_eq!(table.len(), ALL_MODES.len());
        for (mode, expected) in table {
            assert_eq!(patterns_for(&inputs(mode)), expected, "{mode:?}");
        }
    }

    #[test]
    fn storage_low_blinks_amber_only_where_the_mode_leaves_it_free() {
        for mode in ALL_MODES {
            let plain = patterns_for(&inputs(mode));
            let low = patterns_for(&LedInputs {
                storage_low: true,
                ..inputs(mode)
            });
            let owns_amber = matches!(
                mode,
                LedMode::StorageFull
                    | LedMode::StorageFault
                    | LedMode::Fault
                    | LedMode::OffloadComplete
            );
            let amber = if owns_amber { plain.amber } else { BlinkSlow };
            assert_eq!(low, LedPatterns { amber, ..plain }, "{mode:?}");
        }
    }

    #[test]
    fn marker_flash_flashes_red_only_while_recording() {
        for mode in ALL_MODES {
            let plain = patterns_for(&inputs(mode));
            let marked = patterns_for(&LedInputs {
                marker_flash: true,
                ..inputs(mode)
            });
            let red = if mode == LedMode::Recording {
                Flash
            } else {
                plain.red
            };
            assert_eq!(marked, LedPatterns { red, ..plain }, "{mode:?}");
        }
    }

    #[test]
    fn stealth_overrides_everything() {
        for mode in ALL_MODES {
            let all = LedInputs {
                mode,
                storage_low: true,
                marker_flash: true,
                stealth: true,
            };
            assert_eq!(patterns_for(&all), LedPatterns::OFF, "{mode:?}");
        }
    }

    #[test]
    fn level_at_timing() {
        let ms = Duration::from_millis;
        #[rustfmt::skip]
        let cases = [
            (Off, 0, false), (Off, 700, false), (On, 0, true), (On, 99_999, true),
            (BlinkSlow, 0, true), (BlinkSlow, 499, true), (BlinkSlow, 500, false),
            (BlinkSlow, 999, false), (BlinkSlow, 1000, true), (BlinkSlow, 1600, false),
            (BlinkFast, 0, true), (BlinkFast, 124, true), (BlinkFast, 125, false),
            (BlinkFast, 249, false), (BlinkFast, 250, true), (BlinkFast, 1000, true),
            (BlinkFast, 1130, false),
            (Flash, 0, true), (Flash, 99, true), (Flash, 100, false), (Flash, 199, false),
            (Flash, 200, true), (Flash, 299, true), (Flash, 300, false), (Flash, 1000, false),
            (Flash, 1200, false),
        ];
        for (pattern, t, lit) in cases {
            assert_eq!(pattern.level_at(ms(t)), lit, "{pattern:?} at {t} ms");
        }
    }

    #[test]
    fn next_change_after_matches_level_changes() {
        let ms = Duration::from_millis;
        for pattern in [Off, On, BlinkSlow, BlinkFast, Flash] {
            // Walk 0..3 s in 1 ms steps; every level change must be announced.
            let mut announced = pattern.next_change_after(ms(0));
            for t in 1..3000 {
                let changed = pattern.level_at(ms(t)) != pattern.level_at(ms(t - 1));
                if changed {
                    assert_eq!(announced, Some(ms(t)), "{pattern:?} at {t} ms");
                }
                if announced.is_some_and(|a| a <= ms(t)) {
                    announced = pattern.next_change_after(ms(t));
                }
            }
            let expect_static = matches!(pattern, Off | On | Flash);
            assert_eq!(announced.is_none(), expect_static, "{pattern:?}");
        }
    }

    #[test]
    fn haptic_cues() {
        let ms = Duration::from_millis;
        let on_times = |c: HapticCue| c.pulses().iter().map(|&(on, _)| on).collect::<Vec<_>>();
        assert_eq!(
            on_times(HapticCue::RecordingStarted),
            vec![ms(150), ms(150)]
        );
        assert_eq!(on_times(HapticCue::RecordingStopped), vec![ms(600)]);
        assert_eq!(on_times(HapticCue::Marker), vec![ms(100)]);
        assert_eq!(on_times(HapticCue::Fault), vec![ms(100); 3]);
        assert_eq!(on_times(HapticCue::StorageFault), vec![ms(400); 2]);
        for cue in [
            HapticCue::RecordingStarted,
            HapticCue::RecordingStopped,
            HapticCue::Marker,
            HapticCue::Fault,
            HapticCue::StorageFault,
        ] {
            let pulses = cue.pulses();
            // Pulses are separated by a gap so they feel distinct; the last needs none.
            for (i, &(_, off)) in pulses.iter().enumerate() {
                assert_eq!(off.is_zero(), i + 1 == pulses.len(), "{cue:?} pulse {i}");
            }
        }
    }
}
