//! `[voice]`: the code read out in a phone call, through Twilio's Calls API
//! or MSG91's voice API. A chain like `[sms]`, run by the same
//! [`Delivery`](crate::sms::Delivery). A call costs more than a text, so it
//! has its own budget (`[limits] voice_per_hour`).

pub mod msg91;
pub mod twilio;

use std::sync::Arc;

use serde::Deserialize;

use crate::sms::chain::{table_of, ChannelSection};
use crate::sms::message::SmsSender;
use crate::validation::Problems;

pub const PROVIDERS: [&str; 2] = ["twilio", "msg91"];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVoice {
    pub provider: Option<String>,
    pub fallback: Option<Vec<String>>,
    pub timeout: Option<String>,
    pub connect_timeout: Option<String>,
    pub budget: Option<String>,
    pub max_retries: Option<u32>,
    pub twilio: Option<twilio::RawTwilioVoice>,
    pub msg91: Option<msg91::RawMsg91Voice>,
}

#[derive(Debug, Clone)]
pub enum VoiceProvider {
    Twilio(twilio::TwilioVoiceConfig),
    Msg91(msg91::Msg91VoiceConfig),
}

impl VoiceProvider {
    pub fn sender(&self, http: reqwest::Client) -> Arc<dyn SmsSender> {
        match self {
            VoiceProvider::Twilio(c) => Arc::new(twilio::TwilioVoiceSender::new(c.clone(), http)),
            VoiceProvider::Msg91(c) => Arc::new(msg91::Msg91VoiceSender::new(c.clone(), http)),
        }
    }
}

impl ChannelSection for RawVoice {
    type Provider = VoiceProvider;
    const SECTION: &'static str = "voice";
    const PROVIDERS: &'static [&'static str] = &PROVIDERS;

    fn provider(&self) -> Option<&str> {
        self.provider.as_deref()
    }
    fn fallback(&self) -> Option<&Vec<String>> {
        self.fallback.as_ref()
    }
    fn times(&self) -> [Option<&str>; 3] {
        [
            self.timeout.as_deref(),
            self.connect_timeout.as_deref(),
            self.budget.as_deref(),
        ]
    }
    fn max_retries(&self) -> Option<u32> {
        self.max_retries
    }
    fn table(&self, name: &str, problems: &mut Problems) -> Option<VoiceProvider> {
        match name {
            "twilio" => table_of("voice", name, self.twilio.as_ref(), problems, |t, p| {
                twilio::TwilioVoiceConfig::validate(t, p).map(VoiceProvider::Twilio)
            }),
            "msg91" => table_of("voice", name, self.msg91.as_ref(), problems, |t, p| {
                msg91::Msg91VoiceConfig::validate(t, p).map(VoiceProvider::Msg91)
            }),
            _ => None,
        }
    }
}
