use rookery::ModelEnum;

#[derive(ModelEnum)]
pub struct Status {
    pub value: String,
}

fn main() {}
