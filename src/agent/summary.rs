//! What one camera's offload did, and the summary line the agent prints for it.

/// How a camera's offload ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing answered at the camera's address (empty bay).
    NotDocked,
    /// Every closed segment is stored, verified and acknowledged; nothing is open.
    Complete,
    /// Something is left: quarantined, failed, or still being recorded.
    Incomplete,
}

/// One line per camera.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Bay name.
    pub camera: String,
    /// Device id, once known.
    pub device: Option<String>,
    /// Result.
    pub outcome: Outcome,
    /// Segments stored and acknowledged in this run.
    pub offloaded: u32,
    /// Segments found already acknowledged.
    pub already: u32,
    /// Segments quarantined (never acknowledged).
    pub quarantined: Vec<String>,
    /// Segments still being recorded.
    pub open: u32,
    /// Media bytes stored in this run.
    pub bytes: u64,
    /// Wall time.
    pub seconds: f64,
    /// What went wrong.
    pub errors: Vec<String>,
    /// Nothing new since the last complete pass: no line is printed.
    pub quiet: bool,
    /// Segments offloaded in this run that were recorded without an assigned officer.
    pub unassigned: u32,
    /// The officer assignment made at this docking (`assignment_file`), if any.
    pub assigned: Option<String>,
}

impl Summary {
    pub(super) fn new(camera: &str) -> Summary {
        Summary {
            camera: camera.to_string(),
            device: None,
            outcome: Outcome::Incomplete,
            offloaded: 0,
            already: 0,
            quarantined: Vec::new(),
            open: 0,
            bytes: 0,
            seconds: 0.0,
            errors: Vec::new(),
            quiet: false,
            unassigned: 0,
            assigned: None,
        }
    }

    /// A summary for a camera whose offload could not run at all.
    pub fn failed(camera: &str, error: String) -> Summary {
        let mut s = Summary::new(camera);
        s.errors.push(error);
        s
    }

    /// The summary line.
    pub fn line(&self) -> String {
        let device = self.device.as_deref().unwrap_or("-");
        let mb = self.bytes as f64 / 1e6;
        let rate = if self.seconds > 0.0 {
            mb / self.seconds
        } else {
            0.0
        };
        let state = match self.outcome {
            Outcome::NotDocked => "NOT DOCKED",
            Outcome::Complete => "COMPLETE",
            Outcome::Incomplete => "INCOMPLETE",
        };
        let mut s = format!(
            "{} device={device} {state}: offloaded={} already={} quarantined={} open={} {mb:.1} MB in {:.1} s ({rate:.1} MB/s)",
            self.camera,
            self.offloaded,
            self.already,
            self.quarantined.len(),
            self.open,
            self.seconds,
        );
        if let Some(a) = &self.assigned {
            s.push_str(&format!("; assigned to {a}"));
        }
        if self.unassigned > 0 {
            s.push_str(&format!(
                "; UNASSIGNED {} segment(s) recorded without an officer",
                self.unassigned
            ));
        }
        for q in &self.quarantined {
            s.push_str(&format!("; QUARANTINED {q}"));
        }
        for e in &self.errors {
            s.push_str(&format!("; ERROR {e}"));
        }
        s
    }
}
