//! Names of Guangdong's administrative divisions below the city (GB/T 2260 county-level
//! codes: districts 区, counties 县, county-level cities 市), for people: a household is
//! registered at county level (440106), and a caseworker reads "天河区, 广州市", not a code.
//!
//! The policy names the cities and the province it sets standards for; this table names the
//! counties. A code it does not hold is shown by its city's name and the code itself
//! ([`crate::policy::Policy::region_name`]). The table holds the county-level divisions of
//! the cities the generator plants households in, and more; it is a naming aid, never a check:
//! a region code that reads (values::parse_region) is accepted whether or not it is named here.

/// A county-level division: code, Chinese name, English (pinyin) name.
pub const COUNTIES: &[(i32, &str, &str)] = &[
    // 广州市
    (440103, "荔湾区", "Liwan"),
    (440104, "越秀区", "Yuexiu"),
    (440105, "海珠区", "Haizhu"),
    (440106, "天河区", "Tianhe"),
    (440111, "白云区", "Baiyun"),
    (440112, "黄埔区", "Huangpu"),
    (440113, "番禺区", "Panyu"),
    (440114, "花都区", "Huadu"),
    (440115, "南沙区", "Nansha"),
    (440117, "从化区", "Conghua"),
    (440118, "增城区", "Zengcheng"),
    // 韶关市
    (440203, "武江区", "Wujiang"),
    (440204, "浈江区", "Zhenjiang"),
    (440205, "曲江区", "Qujiang"),
    // 深圳市
    (440303, "罗湖区", "Luohu"),
    (440304, "福田区", "Futian"),
    (440305, "南山区", "Nanshan"),
    (440306, "宝安区", "Bao'an"),
    (440307, "龙岗区", "Longgang"),
    (440308, "盐田区", "Yantian"),
    (440309, "龙华区", "Longhua"),
    (440310, "坪山区", "Pingshan"),
    (440311, "光明区", "Guangming"),
    // 珠海市
    (440402, "香洲区", "Xiangzhou"),
    (440403, "斗门区", "Doumen"),
    (440404, "金湾区", "Jinwan"),
    // 汕头市
    (440507, "龙湖区", "Longhu"),
    (440511, "金平区", "Jinping"),
    (440512, "濠江区", "Haojiang"),
    (440513, "潮阳区", "Chaoyang"),
    (440514, "潮南区", "Chaonan"),
    (440515, "澄海区", "Chenghai"),
    (440523, "南澳县", "Nan'ao"),
    // 佛山市
    (440604, "禅城区", "Chancheng"),
    (440605, "南海区", "Nanhai"),
    (440606, "顺德区", "Shunde"),
    (440607, "三水区", "Sanshui"),
    (440608, "高明区", "Gaoming"),
    // 江门市
    (440703, "蓬江区", "Pengjiang"),
    (440704, "江海区", "Jianghai"),
    (440705, "新会区", "Xinhui"),
    (440781, "台山市", "Taishan"),
    (440783, "开平市", "Kaiping"),
    (440784, "鹤山市", "Heshan"),
    (440785, "恩平市", "Enping"),
    // 湛江市
    (440802, "赤坎区", "Chikan"),
    (440803, "霞山区", "Xiashan"),
    (440804, "坡头区", "Potou"),
    (440811, "麻章区", "Mazhang"),
    (440823, "遂溪县", "Suixi"),
    (440825, "徐闻县", "Xuwen"),
    (440881, "廉江市", "Lianjiang"),
    (440882, "雷州市", "Leizhou"),
    (440883, "吴川市", "Wuchuan"),
    // 茂名市
    (440902, "茂南区", "Maonan"),
    (440904, "电白区", "Dianbai"),
    (440981, "高州市", "Gaozhou"),
    (440982, "化州市", "Huazhou"),
    (440983, "信宜市", "Xinyi"),
    // 肇庆市
    (441202, "端州区", "Duanzhou"),
    (441203, "鼎湖区", "Dinghu"),
    (441204, "高要区", "Gaoyao"),
    (441284, "四会市", "Sihui"),
    // 惠州市
    (441302, "惠城区", "Huicheng"),
    (441303, "惠阳区", "Huiyang"),
    (441322, "博罗县", "Boluo"),
    (441323, "惠东县", "Huidong"),
    (441324, "龙门县", "Longmen"),
    // 梅州市
    (441402, "梅江区", "Meijiang"),
    (441403, "梅县区", "Meixian"),
    (441422, "大埔县", "Dabu"),
    (441423, "丰顺县", "Fengshun"),
    (441424, "五华县", "Wuhua"),
    (441426, "平远县", "Pingyuan"),
    (441427, "蕉岭县", "Jiaoling"),
    (441481, "兴宁市", "Xingning"),
    // 汕尾市
    (441502, "城区", "Chengqu"),
    (441521, "海丰县", "Haifeng"),
    (441523, "陆河县", "Luhe"),
    (441581, "陆丰市", "Lufeng"),
    // 河源市
    (441602, "源城区", "Yuancheng"),
    (441621, "紫金县", "Zijin"),
    (441622, "龙川县", "Longchuan"),
    (441623, "连平县", "Lianping"),
    (441624, "和平县", "Heping"),
    (441625, "东源县", "Dongyuan"),
    // 阳江市
    (441702, "江城区", "Jiangcheng"),
    (441704, "阳东区", "Yangdong"),
    (441721, "阳西县", "Yangxi"),
    (441781, "阳春市", "Yangchun"),
    // 清远市
    (441802, "清城区", "Qingcheng"),
    (441803, "清新区", "Qingxin"),
    (441881, "英德市", "Yingde"),
    (441882, "连州市", "Lianzhou"),
    // 潮州市
    (445102, "湘桥区", "Xiangqiao"),
    (445103, "潮安区", "Chao'an"),
    (445122, "饶平县", "Raoping"),
    // 揭阳市
    (445202, "榕城区", "Rongcheng"),
    (445203, "揭东区", "Jiedong"),
    (445222, "揭西县", "Jiexi"),
    (445224, "惠来县", "Huilai"),
    (445281, "普宁市", "Puning"),
    // 云浮市
    (445302, "云城区", "Yuncheng"),
    (445303, "云安区", "Yun'an"),
    (445321, "新兴县", "Xinxing"),
    (445322, "郁南县", "Yunan"),
    (445381, "罗定市", "Luoding"),
];

/// The county-level division `code`, if the table names it.
pub fn county(code: i32) -> Option<(&'static str, &'static str)> {
    COUNTIES
        .binary_search_by_key(&code, |(c, _, _)| *c)
        .ok()
        .map(|i| (COUNTIES[i].1, COUNTIES[i].2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_unique_and_every_code_is_a_county_of_a_city() {
        for w in COUNTIES.windows(2) {
            assert!(w[0].0 < w[1].0, "{} before {}", w[0].0, w[1].0);
        }
        for (code, zh, _) in COUNTIES {
            assert_eq!(code / 10_000, 44, "{code}");
            assert_ne!(code % 100, 0, "{code} is a city's code");
            assert!(
                zh.ends_with('区') || zh.ends_with('县') || zh.ends_with('市'),
                "{zh}"
            );
        }
        assert_eq!(county(440106), Some(("天河区", "Tianhe")));
        assert_eq!(county(440100), None);
    }
}
