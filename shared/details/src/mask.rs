//! A saved travel document number is shown back, to anyone, only masked: a fixed run of bullets and the
//! last three characters ("•••••567"). The run does not follow the number's length, so the mask tells
//! nothing but those three characters. The operator reads the number in full through its own API.

const BULLETS: &str = "•••••";

pub fn document_number(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    // A number of three characters or fewer cannot be shown in part; it never passes validation anyway.
    let shown: String = if chars.len() > 3 { chars[chars.len() - 3..].iter().collect() } else { String::new() };
    format!("{BULLETS}{shown}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_three_characters_show_and_the_length_does_not() {
        assert_eq!(document_number("X1234567"), "•••••567");
        assert_eq!(document_number("AB12345678901"), "•••••901");
        assert_eq!(document_number("123"), "•••••");
    }
}
