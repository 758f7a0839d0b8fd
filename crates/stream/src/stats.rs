//! The stream's counters.

/// Counters of one stream, for metrics and logs. All count since [`crate::StreamCore::new`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Caller frames given to [`crate::StreamCore::caller_audio`].
    pub caller_frames_in: u64,
    /// `media` messages queued to the agent.
    pub media_sent: u64,
    /// 20 ms chunks of caller audio dropped because the agent was not reading (the outgoing
    /// backlog was full).
    pub media_dropped: u64,
    /// `dtmf` messages queued to the agent.
    pub dtmf_sent: u64,
    /// `media` messages accepted from the agent.
    pub agent_media_in: u64,
    /// Frames of the agent's audio returned by [`crate::StreamCore::next_frame`].
    pub frames_played: u64,
    /// 20 ms frames of the agent's audio dropped because the playout queue was full (rounded up).
    pub agent_frames_dropped: u64,
    /// Frames that played at least one frame late because the shell's tick came late (the playout
    /// clock then restarts from that tick rather than bursting).
    pub late_frames: u64,
    /// Times playout resumed after the queue had run dry for longer than
    /// [`crate::StreamConfig::underrun_after`].
    pub underruns: u64,
    /// Messages from the agent with an event the protocol does not use.
    pub unknown_messages: u64,
    /// Messages from the agent rejected with an error.
    pub bad_messages: u64,
    /// Marks acknowledged to the agent (played out or cleared).
    pub marks_acked: u64,
    /// `clear` messages from the agent.
    pub clears: u64,
}
