use rookery::ModelEnum;

#[derive(Debug, Clone, Copy, ModelEnum)]
pub enum Status {
    Active,
    #[rookery(rename = "active")]
    Enabled,
    #[rookery(name = "x")]
    Other,
}

fn main() {}
