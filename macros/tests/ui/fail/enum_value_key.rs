use rookery::ModelEnum;

#[derive(Debug, Clone, Copy, ModelEnum)]
pub enum Status {
    Active,
    #[rookery(value = "gone")]
    Archived,
}

fn main() {}
